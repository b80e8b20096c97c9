"""``carnet import``: the partners' files (the CAF/MSA RSA feed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.common import enabled_connectors
from referential import default_validator

import_app = typer.Typer(no_args_is_help=True, help="Imports de fichiers des partenaires.")


@import_app.command("caf-msa")
def import_caf_msa(
    fichier: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Le fichier XML du flux RSA.")
    ],
    client: Annotated[
        str,
        typer.Option(help="Le client de l'organisation qui importe (un département habilité)."),
    ],
) -> None:
    """Importe un fichier de flux RSA CAF/MSA comme POST /v1/imports/caf-msa : barre de
    progression, puis bilan (compteurs, rejets par position, sans donnée personnelle)."""
    from gateway.errors import ProblemError
    from gateway.habilitation import load_matrix
    from gateway.imports.service import ImportService
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings()
    matrix = load_matrix()
    enabled = enabled_connectors(settings.connecteurs, matrix)
    database = Database(settings.database_url)
    service = ImportService(
        database,
        default_validator(),
        matrix,
        enabled,
        spool=Path(settings.imports_dossier),
        max_bytes=settings.imports_max_octets,
    )
    bars: list[Any] = []

    def progress(position: int, total: int) -> None:
        if not bars:
            bars.append(typer.progressbar(length=total, label="Foyers", show_pos=True))
            bars[0].__enter__()
        bars[0].update(position - bars[0].pos)

    try:
        with fichier.open("rb") as source:
            job = service.submit(service.uploader(client), source)
        job = service.run(job.id, progress=progress)
    except ProblemError as error:
        typer.echo(f"Import refusé : {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
        database.dispose()
    report = job.rapport or {}
    head = report.get("fichier", {})
    typer.echo(f"Import {job.id} : {job.statut} ({head.get('statut', '')})")
    if report.get("erreur"):
        refusal = report["erreur"]
        where = ", ".join(
            f"{name} {refusal[name]}"
            for name in ("ligne", "colonne", "octet")
            if refusal.get(name) is not None
        )
        typer.echo(f"  {refusal['code']} : {refusal['message']} {f'({where})' if where else ''}")
    for name, count in (report.get("compteurs") or {}).items():
        if count:
            typer.echo(f"  {name}={count}")
    for item in (report.get("rejets") or [])[:20]:
        position = f"foyer {item.get('foyer')}" + (
            f", personne {item['personne']}" if "personne" in item else ""
        )
        typer.echo(f"  rejet {position}, ligne {item.get('ligne')} : {item['code']}")
    if job.statut != "termine":
        raise typer.Exit(1)
