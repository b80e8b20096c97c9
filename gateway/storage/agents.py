"""Every query on agents: the persons at the keyboard of an organisation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from gateway.storage import driver
from gateway.storage.database import Database
from gateway.storage.driver import json_list
from gateway.storage.tables import Agent

#: An active agent of an organisation: its habilitations (one indexed query).
_ACTIVE_AGENT = text(
    "SELECT a.habilitations FROM agents a"
    " WHERE a.id = :agent AND a.organisation_id = :organisation AND a.actif"
)
#: The active agent an external identity provider names by its ``sub``.
_BY_SUB = text(
    "SELECT a.id, a.habilitations FROM agents a"
    " WHERE a.sub = :sub AND a.organisation_id = :organisation AND a.actif"
)
_ID_BY_SUB = text("SELECT a.id FROM agents a WHERE a.sub = :sub AND a.actif")
#: Is the agent the designated referent of the notebook (in its current referent membership)?
_REFERENT = text(
    "SELECT 1 FROM groupe_suivi g"
    " WHERE g.carnet_id = :carnet_id AND g.agent_id = :agent"
    " AND g.role = 'referent' AND g.jusqu_au IS NULL"
)


def habilitations(database: Database, agent_id: str, organisation_id: str) -> frozenset[str] | None:
    """The categories an active agent of the organisation is habilitated for; None when the
    organisation has no such active agent."""
    found = database.fetch_one(_ACTIVE_AGENT, {"agent": agent_id, "organisation": organisation_id})
    return None if found is None else frozenset(json_list(found[0]))


def by_sub(database: Database, sub: str, organisation_id: str) -> tuple[str | None, frozenset[str]]:
    """The active agent of the organisation registered with this ``sub`` and its
    habilitations; (None, nothing) when there is none (the call acts without an agent)."""
    found = database.fetch_one(_BY_SUB, {"sub": sub, "organisation": organisation_id})
    if found is None:
        return None, frozenset()
    return str(found[0]), frozenset(json_list(found[1]))


def id_by_sub(database: Database, sub: str) -> str | None:
    """The id of an active agent registered with this ``sub`` (its organisation is checked
    where it is used)."""
    found = database.fetch_one(_ID_BY_SUB, {"sub": sub})
    return None if found is None else str(found[0])


def is_referent(session: Session, carnet_id: str, agent_id: str | None) -> bool:
    """Is the agent the notebook's designated referent agent (its current membership)?"""
    if agent_id is None:
        return False
    return bool(driver.fetch(session, _REFERENT, {"carnet_id": carnet_id, "agent": agent_id}))


def create(
    session: Session,
    *,
    organisation_id: str,
    nom: str,
    courriel: str,
    role: str,
    habilitations: list[str],
    at: datetime,
    sub: str | None = None,
) -> Agent:
    agent = Agent(
        id=str(uuid.uuid4()),
        organisation_id=organisation_id,
        nom=nom,
        courriel=courriel,
        role=role,
        habilitations=sorted(set(habilitations)),
        sub=sub,
        cree_le=at,
    )
    session.add(agent)
    session.flush()
    return agent


def of_organisation(session: Session, organisation_id: str) -> list[Agent]:
    statement = select(Agent).where(Agent.organisation_id == organisation_id)
    return list(session.exec(statement.order_by(col(Agent.cree_le), col(Agent.id))))


def by_id(session: Session, agent_id: str) -> Agent | None:
    return session.get(Agent, agent_id)


def active_of(session: Session, agent_id: str, organisation_id: str) -> Agent | None:
    agent = session.get(Agent, agent_id)
    if agent is None or agent.organisation_id != organisation_id or not agent.actif:
        return None
    return agent


def update(
    session: Session,
    agent: Agent,
    *,
    habilitations: Sequence[str] | None = None,
    actif: bool | None = None,
) -> Agent:
    """Change an agent's habilitations or its state, in the session's transaction."""
    if habilitations is not None:
        agent.habilitations = list(habilitations)
    if actif is not None:
        agent.actif = actif
    session.add(agent)
    return agent
