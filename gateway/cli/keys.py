"""``carnet keys``: the keys that sign the tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import administer

keys_app = typer.Typer(no_args_is_help=True, help="Clés de signature des jetons.")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Ajoute une clé de signature : elle signe désormais ; les jetons signés par les autres
    restent valides tant que ces clés ne sont pas retirées (après la durée de vie des jetons)."""
    from gateway.auth import keys

    kid = administer(lambda session: keys.rotate(session).kid, "Rotation refusée")
    typer.echo(f"kid={kid}")


@keys_app.command("retire")
def keys_retire(kid: Annotated[str, typer.Argument(help="Identifiant de la clé (kid).")]) -> None:
    """Retire une clé (plus publiée : les jetons qu'elle a signés sont refusés)."""
    from gateway.auth import keys

    administer(lambda session: keys.retire(session, kid), "Retrait refusé")
    typer.echo(f"clé {kid} retirée")


@keys_app.command("list")
def keys_list() -> None:
    """Les clés publiées, la plus récente (celle qui signe) en premier."""
    from gateway.auth import keys

    signing = administer(keys.load, "Lecture refusée")
    typer.echo(f"{signing.kid} (signe)")
    for kid in sorted(signing.kids - {signing.kid}):
        typer.echo(kid)
