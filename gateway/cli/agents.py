"""``carnet agents``: the agents of an organisation, for the machine's administrator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from gateway.cli.common import open_database
from gateway.habilitation import load_matrix
from gateway.storage import Session
from gateway.storage import agents as repository
from gateway.storage.tables import Agent, Organisation

agents_app = typer.Typer(
    no_args_is_help=True, help="Agents des organisations (les personnes qui agissent)."
)

AgentId = Annotated[str, typer.Option("--agent", help="Identifiant de l'agent.")]
Habilitation = Annotated[
    list[str],
    typer.Option(
        "--habilitation",
        help="Catégorie réservée au référent à laquelle l'agent est habilité (répétable).",
    ),
]


def _checked(habilitations: list[str]) -> list[str]:
    sensitive = sorted(c for c, d in load_matrix().categories.items() if d.get("sensible"))
    unknown = sorted(set(habilitations) - set(sensitive))
    if unknown:
        typer.echo(
            f"Habilitation refusée : {', '.join(unknown)} ; possibles : {', '.join(sensitive)}",
            err=True,
        )
        raise typer.Exit(2)
    return habilitations


def _agent(session: Session, agent_id: str) -> Agent:
    agent = repository.by_id(session, agent_id)
    if agent is None:
        typer.echo(f"Agent inconnu : {agent_id}", err=True)
        raise typer.Exit(2)
    return agent


@agents_app.command("create")
def create(
    organisation: Annotated[str, typer.Option(help="Identifiant de l'organisation.")],
    nom: Annotated[str, typer.Option(help="Nom de l'agent.")],
    courriel: Annotated[str, typer.Option(help="Courriel professionnel.")],
    role: Annotated[str, typer.Option(help="Fonction (conseiller, travailleur social…).")],
    habilitation: Habilitation = [],  # noqa: B006 - typer reads the default
    sub: Annotated[
        str | None,
        typer.Option(help="Son identifiant (sub) chez le fournisseur d'identité externe."),
    ] = None,
) -> None:
    """Déclare un agent ; affiche son identifiant, à nommer dans l'en-tête Agent."""
    habilitations = _checked(habilitation)
    database = open_database()
    try:
        with database.write() as session:
            if session.get(Organisation, organisation) is None:
                typer.echo(f"Organisation inconnue : {organisation}", err=True)
                raise typer.Exit(2)
            agent = repository.create(
                session,
                organisation_id=organisation,
                nom=nom,
                courriel=courriel,
                role=role,
                habilitations=habilitations,
                at=datetime.now(UTC),
                sub=sub,
            )
            typer.echo(agent.id)
    finally:
        database.dispose()


@agents_app.command("list")
def list_agents(
    organisation: Annotated[str, typer.Option(help="Identifiant de l'organisation.")],
) -> None:
    """Les agents d'une organisation : identifiant, état, habilitations, fonction."""
    database = open_database()
    try:
        with database.read() as session:
            for agent in repository.of_organisation(session, organisation):
                state = "actif" if agent.actif else "inactif"
                rights = ",".join(agent.habilitations) or "-"
                typer.echo(f"{agent.id}\t{state}\t{rights}\t{agent.role}")
    finally:
        database.dispose()


@agents_app.command("habiliter")
def habilitate(agent: AgentId, habilitation: Habilitation = []) -> None:  # noqa: B006
    """Remplace les habilitations de l'agent aux catégories réservées au référent."""
    habilitations = _checked(habilitation)
    database = open_database()
    try:
        with database.write() as session:
            found = _agent(session, agent)
            found.habilitations = sorted(set(habilitations))
            session.add(found)
    finally:
        database.dispose()
    typer.echo(f"agent {agent} : {', '.join(sorted(set(habilitations))) or 'aucune habilitation'}")


@agents_app.command("disable")
def disable(agent: AgentId) -> None:
    """Désactive un agent : les appels qui le nomment sont refusés aussitôt."""
    database = open_database()
    try:
        with database.write() as session:
            found = _agent(session, agent)
            found.actif = False
            session.add(found)
    finally:
        database.dispose()
    typer.echo(f"agent {agent} désactivé")
