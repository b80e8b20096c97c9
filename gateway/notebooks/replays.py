"""Replays of notebook writes under the caller's current rights.

The idempotency store keeps a write's answer without the notebook it embedded (see
:mod:`gateway.idempotency`). A replay embeds the notebook again as the caller may read it now:
the current stored view, projected on the categories the caller may read today, and only while
the notebook is within its need to know; otherwise the write's outcome is replayed alone.
"""

from __future__ import annotations

from gateway.habilitation.categories import served
from gateway.habilitation.guard import Guard
from gateway.idempotency import Rerender
from gateway.notebooks.service import embed
from gateway.storage import Session, agents
from gateway.storage import notebooks as repository
from referential import Validator


def under_current_rights(guard: Guard, validator: Validator) -> Rerender:
    """The :data:`Rerender` of the answers to ``guard``'s caller."""

    def rerender(session: Session, head: bytes, carnet_id: str) -> tuple[bytes, list[str]]:
        territoire = repository.territory_of(session, carnet_id)
        if territoire is None:
            return head, []
        role = repository.role_of(session, carnet_id, guard.principal.organisation_id)
        if not guard.may_touch(territoire, role is not None):
            return head, []
        vue, held = repository.stored_view(session, carnet_id)
        readable, withheld = guard.served(
            agents.is_referent(session, carnet_id, guard.agent), role == "referent"
        )
        notebook, categories = served(vue, held, readable, withheld, validator, own=guard.own)
        return embed(head, notebook), categories

    return rerender
