"""``carnet referential``: the referential and its versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

referential_app = typer.Typer(no_args_is_help=True, help="Référentiel et ses versions.")


@referential_app.command("diff")
def referential_diff(
    de: Annotated[str, typer.Argument(help="Version de départ (par exemple 2026.1).")],
    a: Annotated[str, typer.Argument(help="Version d'arrivée, postérieure ou égale.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Sortie JSON (celle de GET /v1/referentiel/diff).")
    ] = False,
    donnees: Annotated[
        Path | None,
        typer.Option("--donnees", help="Dossier de données du référentiel (par défaut : publié)."),
    ] = None,
) -> None:
    """Ce qui change d'une version du référentiel à une autre."""
    from referential import VersionOrderError, current_referential, load_referential

    ref = load_referential(donnees) if donnees else current_referential()
    try:
        changes = ref.diff(de, a)
    except VersionOrderError as error:
        typer.echo(
            f"Comparaison impossible : {error} (versions : {', '.join(sorted(ref.versions))}).",
            err=True,
        )
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(changes.to_wire(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"Référentiel {de} → {a}")
    if changes.empty:
        typer.echo("Aucun changement de code.")
        return
    sections: list[tuple[str, list[str]]] = [
        ("Ajoutés", [f"{c.liste:<22} {c.code} — {c.libelle}" for c in changes.ajoutes]),
        ("Renommés", [f"{r.liste:<22} {r.codes[0]} → {r.vers[0]}" for r in changes.renommes]),
        (
            "Fusionnés",
            [f"{r.liste:<22} {' + '.join(r.codes)} → {r.vers[0]}" for r in changes.fusionnes],
        ),
        (
            "Scindés",
            [f"{r.liste:<22} {r.codes[0]} → {' | '.join(r.vers)}" for r in changes.scindes],
        ),
        ("Dépréciés", [_replaced(c) for c in changes.deprecies]),
        ("Retirés", [_replaced(c) for c in changes.retires]),
    ]
    for title, lines in sections:
        if lines:
            typer.echo(f"{title} ({len(lines)}) :")
            for line in lines:
                typer.echo(f"  {line}")


def _replaced(change: Any) -> str:
    then = f" → {', '.join(change.remplace_par)}" if change.remplace_par else " (sans remplacement)"
    return f"{change.liste:<22} {change.code}{then}"
