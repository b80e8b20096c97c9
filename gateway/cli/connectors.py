"""``carnet connectors``: a batch of a connector over a territory (gateway/connectors/batch.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from gateway.cli.common import enabled_connectors
from referential import default_validator

connectors_app = typer.Typer(no_args_is_help=True, help="Connecteurs des systèmes partenaires.")


@connectors_app.command("run")
def connectors_run(
    slug: Annotated[str, typer.Argument(help="Le connecteur, par exemple france_travail.")],
    territoire: Annotated[str, typer.Option(help="Le territoire (département) à parcourir.")],
    forcer: Annotated[
        bool, typer.Option(help="Interroger le partenaire même dans le délai de fraîcheur.")
    ] = False,
) -> None:
    """Interroge le partenaire pour chaque carnet du territoire qui porte un NIR (au nom de la
    passerelle, BATCH) ; barre de progression, puis bilan par résultat. S'arrête dès que le
    partenaire refuse tout appel (configuration, abonnement) ; quand il demande de revenir plus
    tard (Retry-After), attend (au plus une minute) et réessaie ce carnet une fois."""
    from gateway.connectors.batch import run_batch
    from gateway.connectors.service import SyncService
    from gateway.habilitation import load_matrix
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings()
    matrix = load_matrix()
    enabled = enabled_connectors(settings.connecteurs, matrix)
    entry = enabled.get(slug)
    if entry is None or territoire not in entry.clients:
        typer.echo(f"Connecteur « {slug} » non activé dans le territoire {territoire}.", err=True)
        raise typer.Exit(1)
    database = Database(settings.database_url)
    service = SyncService(
        database,
        default_validator(),
        matrix,
        enabled,
        interval=timedelta(seconds=settings.connecteur_intervalle_secondes),
        not_found_interval=timedelta(seconds=settings.connecteur_intervalle_introuvable_secondes),
    )
    summary = run_batch(
        service,
        slug,
        territoire,
        force=forcer,
        progress=lambda ids: typer.progressbar(ids, label=f"{slug} {territoire}", show_pos=True),
    )
    database.dispose()
    if summary.stopped is not None:
        fatal = summary.stopped
        typer.echo(
            f"Lot arrêté : le partenaire refuse tout appel ({fatal.code} : {fatal.detail}). "
            "Un opérateur doit corriger la configuration ou l'abonnement du connecteur.",
            err=True,
        )
    typer.echo(f"Bilan : {summary.total} carnet(s)")
    for name, count in sorted(summary.outcomes.items()):
        if count:
            typer.echo(f"  {name}={count}")
    if summary.failed:
        raise typer.Exit(1)
