"""Queries on organisations and clients."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import text
from sqlmodel import Session, col, select

from gateway.auth.principal import ClientRights, Override
from gateway.storage.database import Database
from gateway.storage.driver import json_list
from gateway.storage.tables import Client, Organisation
from gateway.storage.tables import Override as Decision

#: Run on every authenticated request: disabling a client or its organisation takes effect at
#: once. (organisation id, actor kind, territories) of an active client of an active organisation.
ACTIVE_CLIENT = text(
    "SELECT o.id, o.type_acteur, o.territoires, o.derogations, c.operateur FROM clients c"
    " JOIN organisations o ON o.id = c.organisation_id"
    " WHERE c.client_id = :client_id AND c.actif AND o.actif"
)

#: Is this operator client national? Read by the administration routes only (the hot path's
#: query above does not carry it): (national,) of an operator client.
#: Is the client the data protection officer's (an operator client flagged dpo)?
DPO = text("SELECT c.dpo FROM clients c WHERE c.client_id = :client_id AND c.operateur AND c.actif")
NATIONAL_OPERATOR = text(
    "SELECT c.national FROM clients c WHERE c.client_id = :client_id AND c.operateur"
)


def is_dpo(database: Database, client_id: str) -> bool:
    """Is the client the data protection officer's (an active operator client flagged dpo)?"""
    found = database.fetch_one(DPO, {"client_id": client_id})
    return found is not None and bool(found[0])


def overrides(value: Any) -> tuple[Override, ...]:
    """The overrides column (``derogations``) as a text() query reads it."""
    return tuple(tuple(o) for o in json_list(value))  # type: ignore[misc]


def client_rights(
    organisation_id: str, type_acteur: str, territoires: Any, derogations: Any, operateur: Any
) -> ClientRights:
    """A client's rights from the columns of :data:`ACTIVE_CLIENT` (or of a query reading the
    same), as the driver gives them."""
    return _client_rights(
        organisation_id,
        type_acteur,
        _hashable(territoires),
        _hashable(derogations),
        bool(operateur),
    )


@lru_cache(maxsize=4096)
def _client_rights(
    organisation_id: str,
    type_acteur: str,
    territoires: str | bytes,
    derogations: str | bytes,
    operateur: bool,
) -> ClientRights:
    return ClientRights(
        organisation_id, type_acteur, json_list(territoires), overrides(derogations), operateur
    )


def _hashable(column: Any) -> str | bytes:
    """A JSON column as a text() query reads it: SQLite's text, or PostgreSQL's value dumped."""
    return column if isinstance(column, str | bytes) else orjson.dumps(column)


def active_client(database: Database, client_id: str) -> ClientRights | None:
    """The rights of an active client of an active organisation (None otherwise)."""
    found = database.fetch_one(ACTIVE_CLIENT, {"client_id": client_id})
    return None if found is None else client_rights(*found)


def is_national_operator(database: Database, client_id: str) -> bool:
    """Is the client a national operator's (read at each administration request)?"""
    found = database.fetch_one(NATIONAL_OPERATOR, {"client_id": client_id})
    return found is not None and bool(found[0])


def organisation(session: Session, organisation_id: str) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def client(session: Session, client_id: str) -> Client | None:
    return session.get(Client, client_id)


def save(session: Session, row: Organisation | Client | Decision) -> None:
    """Record a new or changed organisation, client or override in the session's
    transaction (flushed: its generated columns are set)."""
    session.add(row)
    session.flush()


def by_name(session: Session) -> list[Organisation]:
    """Every organisation, by name."""
    return list(session.exec(select(Organisation).order_by(col(Organisation.nom))))


def overrides_of(session: Session, organisation_id: str) -> list[Decision]:
    """An organisation's overrides, active or lifted, in the order they were decided."""
    statement = select(Decision).where(Decision.organisation_id == organisation_id)
    return list(session.exec(statement.order_by(col(Decision.id))))


def active_overrides(
    session: Session, organisation_id: str, categorie: str, droit: str
) -> list[Decision]:
    """The active overrides of one right of one category of an organisation."""
    statement = select(Decision).where(
        Decision.organisation_id == organisation_id,
        Decision.categorie == categorie,
        Decision.droit == droit,
        col(Decision.actif).is_(True),
    )
    return list(session.exec(statement))


def first_client(session: Session, organisation_id: str) -> Client | None:
    """An organisation's first client registered (the demo's)."""
    statement = select(Client).where(Client.organisation_id == organisation_id)
    return session.exec(statement.order_by(col(Client.cree_le))).first()
