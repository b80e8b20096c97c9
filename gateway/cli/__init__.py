"""The ``carnet`` command: one Typer per group of commands (a module of this package), added to
the root app here; the commands of the root (serve, validate, worker) are added by name.

The modules import what a command needs when it runs: ``carnet --help`` stays quick."""

from __future__ import annotations

import typer

from gateway.cli import (
    administration,
    agents,
    connectors,
    db,
    habilitations,
    imports,
    keys,
    maintenance,
    referential,
    sandbox,
    schemas,
    serve,
    validate,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Passerelle Carnet de bord.")
app.command()(serve.serve)
app.command()(validate.validate)
app.command()(serve.worker)
app.add_typer(schemas.schemas_app, name="schemas")
app.add_typer(schemas.openapi_app, name="openapi")
app.add_typer(db.db_app, name="db")
app.add_typer(administration.organisations_app, name="organisations")
app.add_typer(administration.clients_app, name="clients")
app.add_typer(habilitations.habilitations_app, name="habilitations")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(sandbox.sandbox_app, name="bac-a-sable")
app.add_typer(connectors.connectors_app, name="connectors")
app.add_typer(referential.referential_app, name="referential")
app.add_typer(imports.import_app, name="import")
app.add_typer(maintenance.changes_app, name="changements")
app.add_typer(maintenance.subscriptions_app, name="abonnements")
app.add_typer(maintenance.deliveries_app, name="livraisons")
app.add_typer(agents.agents_app, name="agents")


def main() -> None:
    app(prog_name="carnet")
