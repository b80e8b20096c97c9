"""Queries on organisations and clients."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from gateway.storage.tables import Client, Organisation

_CLIENTS = Client.__table__.c  # type: ignore[attr-defined]
_ORGANISATIONS = Organisation.__table__.c  # type: ignore[attr-defined]


def active_client(session: Session, client_id: str) -> tuple[str, str, list[str]] | None:
    """(organisation id, actor kind, territories) of an active client of an active organisation.

    One query, run on every authenticated request: disabling either takes effect at once.
    """
    statement = (
        select(_ORGANISATIONS.id, _ORGANISATIONS.type_acteur, _ORGANISATIONS.territoires)
        .join_from(Client, Organisation, _CLIENTS.organisation_id == _ORGANISATIONS.id)
        .where(_CLIENTS.client_id == client_id, _CLIENTS.actif, _ORGANISATIONS.actif)
    )
    found: Any = session.execute(statement).one_or_none()
    return (found[0], found[1], list(found[2])) if found is not None else None
