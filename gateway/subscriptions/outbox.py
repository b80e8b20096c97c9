"""The outbox: one delivery row per change and matching subscription, in the transaction of
the change (one query for the candidates, one multi-row insert)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gateway.habilitation.matrix import SANDBOX, Matrix
from gateway.storage import Session
from gateway.storage import subscriptions as repository
from gateway.storage.driver import json_list
from gateway.storage.organisations import overrides
from gateway.subscriptions.events import (
    CHANGED,
    CREATED,
    DELIVERED,
    FAILED,
    GONE,
    HEARTBEAT,
    JOIN_DECIDED,
    JOIN_REQUESTED,
    PENDING,
    new_event_id,
)

__all__ = [
    "CHANGED",
    "CREATED",
    "DELIVERED",
    "FAILED",
    "GONE",
    "HEARTBEAT",
    "JOIN_DECIDED",
    "JOIN_REQUESTED",
    "PENDING",
    "enqueue",
    "may_see",
    "new_event_id",
]


def enqueue(
    session: Session,
    matrix: Matrix,
    *,
    carnet_id: str,
    territoire: str,
    version: int,
    sections: Iterable[str],
    categories: Iterable[str],
    created: bool,
    at: datetime,
    kind: str | None = None,
) -> int:
    """Queue the change (or the event ``kind``) for every active subscription of an active
    client that wants it and whose organisation may see it (need to know, categories); the
    number of deliveries queued."""
    candidates = repository.candidates(session, carnet_id)
    if not candidates:
        return 0
    kind = kind or (CREATED if created else CHANGED)
    changed, touched = set(sections), set(categories)
    rows: list[dict[str, Any]] = []
    for (
        sid,
        s_territoires,
        s_sections,
        s_categories,
        s_types,
        type_acteur,
        o_territoires,
        derogations,
        linked,
    ) in candidates:
        if kind not in json_list(s_types):
            continue
        wanted_territories = json_list(s_territoires)
        if wanted_territories and territoire not in wanted_territories:
            continue
        wanted_sections = set(json_list(s_sections))
        if wanted_sections and not wanted_sections & changed:
            continue
        actor = matrix.actor(type_acteur, overrides(derogations))
        if not may_see(actor.portee, territoire, json_list(o_territoires), bool(linked)):
            continue
        visible = touched & actor.readable
        wanted_categories = set(json_list(s_categories))
        if touched and not visible:
            continue
        if wanted_categories and not wanted_categories & visible:
            continue
        rows.append(
            {
                "abonnement_id": sid,
                "evenement_id": new_event_id(),
                "type": kind,
                "carnet_id": carnet_id,
                "version": version,
                "territoire": territoire,
                "sections": sorted(changed),
                "horodatage": at,
                "statut": PENDING,
                "tentatives": 0,
                "prochaine_tentative": at,
                "cree_le": at,
            }
        )
    repository.queue_rows(session, rows)
    return len(rows)


def may_see(portee: str, territoire: str, territoires: tuple[str, ...], linked: bool) -> bool:
    """The need to know of :meth:`gateway.habilitation.guard.Guard.may_touch`, for an
    organisation rather than a caller."""
    if territoire not in territoires:
        return False
    if portee == "territoire":
        return True
    if portee == "bac_a_sable":
        return territoire == SANDBOX
    return portee == "relation" and linked
