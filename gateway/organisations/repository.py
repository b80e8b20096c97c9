"""Queries on organisations and clients."""

from __future__ import annotations

from sqlalchemy import text

from gateway.storage.database import Database

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
