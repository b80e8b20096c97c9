"""``carnet bac-a-sable``: the software vendors' sandbox (territory SBX)."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import open_database
from referential import default_validator

sandbox_app = typer.Typer(no_args_is_help=True, help="Bac à sable des éditeurs (territoire SBX).")


@sandbox_app.command("peupler")
def sandbox_seed(
    nombre: Annotated[int, typer.Option(min=1, max=1000, help="Carnets inventés à ajouter.")] = 20,
) -> None:
    """Ajoute des carnets inventés au territoire bac à sable (SBX) des éditeurs de logiciel."""
    from gateway.demo import seed_sandbox

    held = seed_sandbox(open_database(), default_validator(), nombre)
    typer.echo(f"{held} carnet(s) inventé(s) dans le bac à sable")
