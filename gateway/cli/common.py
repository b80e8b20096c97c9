"""What the command groups share: the database, an administration change, a generated
file written or checked, the enabled connectors, the options naming a client or an organisation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from gateway.storage.database import Database


def open_database() -> Database:
    """The database of the settings (CARNET_DATABASE_URL)."""
    from gateway.settings import Settings
    from gateway.storage.database import Database

    return Database(Settings().database_url)


def administer(action: Callable[[Any], Any], refused: str) -> Any:
    """Run one administration change in a write transaction; exit 2 with the reason if refused."""
    from gateway.organisations.service import InvalidOrganisation

    database = open_database()
    try:
        with database.write() as session:
            return action(session)
    except (InvalidOrganisation, ValueError) as error:
        typer.echo(f"{refused} : {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        database.dispose()


ClientId = Annotated[str, typer.Option("--client", help="Identifiant du client (client_id).")]
OrganisationId = Annotated[
    str, typer.Option("--organisation", help="Identifiant de l'organisation.")
]


def write_or_check(path: Path, content: str, check: bool) -> bool:
    """Write ``content`` to ``path``, or with ``check`` tell whether it already holds it."""
    if check:
        return path.is_file() and path.read_text(encoding="utf-8") == content
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return True


def enabled_connectors(configuration: dict[str, dict[str, str]], matrix: Any) -> Any:
    """The connectors the configuration enables; exit 1 with the reason when one cannot load."""
    from connectors import ConnectorLoadError
    from gateway.connectors import loader

    try:
        return loader.Connectors.load(configuration, loader.connector_registry(), matrix)
    except ConnectorLoadError as error:
        typer.echo(f"Connecteurs : {error}", err=True)
        raise typer.Exit(1) from None
