"""``carnet changements``, ``carnet livraisons`` and ``carnet abonnements``: what the operator
runs from time to time (purges of the change log and of the deliveries, secrets sealed again)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer

from gateway.cli.common import open_database

changes_app = typer.Typer(no_args_is_help=True, help="Journal des changements (flux).")
subscriptions_app = typer.Typer(no_args_is_help=True, help="Abonnements aux événements.")
deliveries_app = typer.Typer(no_args_is_help=True, help="Livraisons des événements (la file).")


@changes_app.command("purger")
def changes_purge() -> None:
    """Oublier les changements plus anciens que la durée de conservation
    (CARNET_CHANGEMENTS_RETENTION_JOURS) : un curseur du flux qui les précède a expiré (410)."""
    from gateway.settings import Settings
    from gateway.storage import feed

    now = datetime.now(UTC)
    before = now - timedelta(days=Settings().changements_retention_jours)
    database = open_database()
    try:
        with database.write() as session:
            purged = feed.purge(session, before, now)
    finally:
        database.dispose()
    typer.echo(f"{purged} changement(s) oublié(s).")


@deliveries_app.command("purger")
def deliveries_purge() -> None:
    """Oublier les livraisons livrées depuis plus de CARNET_LIVRAISONS_RETENTION_JOURS (7), les
    battements de plus de CARNET_BATTEMENTS_RETENTION_JOURS (1), et les lettres mortes de plus
    de CARNET_CHANGEMENTS_RETENTION_JOURS (30) ; jamais une livraison en attente."""
    from gateway.settings import Settings
    from gateway.storage import subscriptions as repository

    settings = Settings()
    now = datetime.now(UTC)
    database = open_database()
    try:
        with database.write() as session:
            purged = repository.purge_deliveries(
                session,
                delivered_before=now - timedelta(days=settings.livraisons_retention_jours),
                heartbeats_before=now - timedelta(days=settings.battements_retention_jours),
                dead_before=now - timedelta(days=settings.changements_retention_jours),
            )
    finally:
        database.dispose()
    typer.echo(
        f"{purged.delivered} livraison(s) livrée(s), {purged.heartbeats} battement(s), "
        f"{purged.dead} lettre(s) morte(s) oubliée(s)."
    )


@subscriptions_app.command("resceller")
def subscriptions_reseal() -> None:
    """Sceller de nouveau les secrets de signature sous la première clé de CARNET_CLES_SECRETS
    (après l'ajout d'une clé en tête) : l'ancienne clé peut ensuite être retirée. Un abonnement
    dont le secret change pendant l'opération (une rotation) garde le sien et est signalé :
    relancer la commande. Code 1 si un secret ne s'ouvre avec aucune des clés."""
    from gateway import sealing
    from gateway.settings import Settings
    from gateway.subscriptions import service

    keyring = sealing.keyring(Settings())
    database = open_database()
    try:
        with database.write() as session:
            done = service.reseal_all(session, keyring)
    finally:
        database.dispose()
    for subscription_id, code in done.unreadable:
        typer.echo(f"abonnement {subscription_id} : {code}", err=True)
    typer.echo(f"{done.resealed} abonnement(s) scellé(s) de nouveau sous la clé « {keyring.kid} ».")
    if done.changed:
        typer.echo(
            f"{done.changed} abonnement(s) dont le secret a changé pendant l'opération, laissé(s) "
            "tel(s) quel(s) : relancez la commande."
        )
    if done.unreadable:
        raise typer.Exit(1)
