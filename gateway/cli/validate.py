"""``carnet validate``, at the root: a file checked offline by the gateway's engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from referential import (
    BatchReport,
    Finding,
    FindingGroup,
    LineSplitter,
    Report,
    TooLong,
    Validator,
    default_validator,
)


class InputFormat(StrEnum):
    auto = "auto"
    json = "json"
    ndjson = "ndjson"


def _lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes | TooLong]]:
    """The numbered lines of an NDJSON file, cut as the API cuts a batch."""
    splitter = LineSplitter(max_line_bytes)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            yield from splitter.feed(chunk)
    yield from splitter.finish()


def _print_finding(finding: Finding, level: str) -> None:
    where = f"ligne {finding.ligne} " if finding.ligne is not None else ""
    pointer = finding.pointer or "/"
    text = f"{where}{pointer} : [{level}] {finding.code} — {finding.message}"
    typer.echo(text)


def _print_group(group: FindingGroup, level: str) -> None:
    ranges = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in group.lignes)
    more = " …" if group.tronque else ""
    pointer = group.finding.pointer or "/"
    typer.echo(
        f"lignes {ranges}{more} ({group.nombre}) {pointer} : [{level}] {group.finding.code} — "
        f"{group.finding.message}"
    )


def validate(
    file: Annotated[
        Path, typer.Argument(help="Fichier JSON (un contenu) ou NDJSON (un par ligne).")
    ],
    kind: Annotated[str, typer.Option("--kind", "-k", help="Type de contenu (carnet, personne…).")],
    input_format: Annotated[
        InputFormat, typer.Option("--format", help="json, ndjson, ou auto (selon l'extension).")
    ] = InputFormat.auto,
    as_json: Annotated[
        bool, typer.Option("--json", help="Sortie JSON (une ligne par contenu).")
    ] = False,
    grouped: Annotated[
        bool,
        typer.Option(
            "--groupes",
            help="NDJSON : constats groupés par plages de lignes (avec --json : le rapport de "
            "lot de POST /v1/validation/{kind}).",
        ),
    ] = False,
) -> None:
    """Valide un fichier hors ligne avec le moteur de la passerelle ; code 0 si valide, 1 sinon."""
    import gc

    from gateway.settings import Settings

    validator: Validator = default_validator()
    # The referential and its models live as long as the command: out of the collector's
    # generations, collections stay short (as in the gateway).
    gc.freeze()
    if kind not in validator.kinds:
        typer.echo(
            f"Type inconnu « {kind} » ; types : {', '.join(sorted(validator.kinds))}.", err=True
        )
        raise typer.Exit(2)
    if not file.is_file():
        typer.echo(f"Fichier introuvable : {file}", err=True)
        raise typer.Exit(2)
    ndjson = input_format is InputFormat.ndjson or (
        input_format is InputFormat.auto and file.suffix.lower() in (".ndjson", ".jsonl")
    )
    batch = BatchReport(kind=kind, version=validator.version)
    reports: Iterator[Report]
    if ndjson:
        max_line_bytes = Settings().max_body_bytes
        reports = (batch.add_line(validator, n, line) for n, line in _lines(file, max_line_bytes))
    else:
        reports = iter([validator.check(kind, file.read_bytes())])
    total = invalid = warnings = 0
    for report in reports:
        total += 1
        invalid += not report.valid
        warnings += len(report.warnings)
        if grouped and ndjson:
            continue
        if as_json:
            typer.echo(json.dumps(report.to_wire(), ensure_ascii=False))
            continue
        for finding in report.errors:
            _print_finding(finding, "erreur")
        for finding in report.warnings:
            _print_finding(finding, "avertissement")
    if grouped and ndjson:
        if as_json:
            typer.echo(json.dumps(batch.to_wire(), ensure_ascii=False))
        else:
            for group in batch.groups("erreur"):
                _print_group(group, "erreur")
            for group in batch.groups("avertissement"):
                _print_group(group, "avertissement")
    if not as_json:
        typer.echo(
            f"{total} contenu(s) « {kind} » : {total - invalid} valide(s), {invalid} invalide(s), "
            f"{warnings} avertissement(s) (référentiel {validator.version})."
        )
    raise typer.Exit(1 if invalid or total == 0 else 0)
