"""``carnet serve`` (the gateway) and ``carnet worker`` (the deliveries), at the root."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from gateway.cli.common import enabled_connectors, open_database
from referential import default_validator


def serve(
    host: Annotated[str | None, typer.Option(help="Adresse d'écoute.")] = None,
    port: Annotated[int | None, typer.Option(help="Port d'écoute.")] = None,
    demo: Annotated[
        bool, typer.Option(help="Créer le territoire de démonstration et afficher ses accès.")
    ] = False,
) -> None:
    """Applique les migrations et lance la passerelle (uvicorn)."""
    import uvicorn

    from connectors import ConnectorLoadError
    from gateway.app import create_app
    from gateway.connectors import loader
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings()
    database = Database(settings.database_url)
    database.migrate()
    try:
        application = create_app(settings, database=database, registry=loader.connector_registry())
    except ConnectorLoadError as error:
        typer.echo(f"Démarrage impossible : {error}", err=True)
        raise typer.Exit(1) from None
    if demo:
        from gateway import demo as demo_data

        credentials = demo_data.seed(database, default_validator())
        host_shown = host or settings.host
        port_shown = port or settings.port
        typer.echo(f"Territoire de démonstration {demo_data.TERRITOIRE} — accès des clients :")
        for item in credentials:
            typer.echo(
                f"  {item.organisation} ({item.type_acteur})\n"
                f"    client_id={item.client_id}\n    client_secret={item.client_secret}"
                + (f"\n    agent={item.agent}" if item.agent else "")
            )
        typer.echo(
            f"Jeton : curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials "
            f"http://{host_shown}:{port_shown}/oauth/token"
        )
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        # No access log: URLs can carry identifiers. The asyncio loop, not uvloop: under load
        # uvloop served some connections far later than others (p99 ten times the median).
        access_log=False,
        loop="asyncio",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )


def worker(
    une_fois: Annotated[
        bool, typer.Option("--une-fois", help="Une seule passe sur les livraisons dues.")
    ] = False,
    attente: Annotated[
        float, typer.Option(help="Secondes d'attente quand rien n'est dû.", min=0.05)
    ] = 1.0,
) -> None:
    """Livrer les événements aux abonnés (webhooks signés) ; plusieurs workers partagent la
    file sur PostgreSQL."""
    from gateway.habilitation import load_matrix
    from gateway.settings import Settings
    from gateway.subscriptions.worker import Worker

    settings = Settings()
    # The deliver connectors (the département IS) serve the ``connecteur:<slug>`` targets.
    enabled = enabled_connectors(settings.connecteurs, load_matrix())
    database = open_database()
    deliverer = Worker(
        database,
        heartbeat=timedelta(minutes=settings.battement_minutes),
        connectors=enabled,
        settings=settings,
    )
    try:
        if une_fois:
            typer.echo(f"{deliverer.run_once()} livraison(s) tentée(s).")
        else:
            deliverer.run(attente)
    except KeyboardInterrupt:
        pass
    finally:
        deliverer.close()
        database.dispose()
