"""The events a subscription receives and the states of a delivery (stored codes)."""

from __future__ import annotations

import uuid

PENDING, DELIVERED, FAILED, GONE = "en_attente", "livre", "echec", "abandonne"
CREATED, CHANGED, HEARTBEAT = "carnet.cree", "carnet.modifie", "battement"
#: A partner asked to join a notebook's follow-up group; the request was decided.
JOIN_REQUESTED, JOIN_DECIDED = "carnet.rattachement_demande", "carnet.rattachement_decide"


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex
