"""Agents as the setting-up of a territory needs them."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.habilitation import load_matrix
from gateway.storage import Session
from gateway.storage import agents as repository


def reserve_agent(
    session: Session, organisation_id: str, type_acteur: str, *, nom: str, courriel: str
) -> str | None:
    """A new agent of the organisation habilitated for every category the matrix reserves to
    the referent for its actor kind (its id); None for a kind that reserves none."""
    reserve = load_matrix().actor(type_acteur).reserve
    if not reserve:
        return None
    return repository.create(
        session,
        organisation_id=organisation_id,
        nom=nom,
        courriel=courriel,
        role="conseiller",
        habilitations=sorted(reserve),
        at=datetime.now(UTC),
    ).id
