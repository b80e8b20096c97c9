"""``carnet db``: the database."""

from __future__ import annotations

import typer

from gateway.cli.common import open_database

db_app = typer.Typer(no_args_is_help=True, help="Base de données.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Crée la base ou applique les migrations manquantes (CARNET_DATABASE_URL)."""
    open_database().migrate()
    typer.echo("Base à jour.")
