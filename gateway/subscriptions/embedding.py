"""The changed sections a subscription may have embedded in its events (``inclure_sections``):
read at delivery, within the organisation's need to know, those of the subscription's
``sections`` (when it names some), projected on the categories its habilitation lets it export
(with its overrides at that time) and its ``categories`` name (when it names some), journaled
with the subscription's purpose — the categories actually sent — before they are sent.

The event still says which version changed; the sections are those of the notebook as it is
when the delivery is attempted (``version`` in ``donnees.carnet``), so a retry never sends data
that has since been withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gateway.auth.principal import source_key
from gateway.habilitation.categories import FREE_TEXT, categories_of, project
from gateway.habilitation.matrix import Matrix
from gateway.storage import Session, notebooks, organisations
from gateway.storage.driver import json_list
from gateway.storage.organisations import overrides
from gateway.storage.tables import Delivery, Subscription
from gateway.subscriptions.outbox import may_see
from gateway.subscriptions.service import exportable
from referential import Validator, Violation

#: The action of the journal entries of the sections sent with an event.
ACTION = "livraison"


@dataclass(frozen=True, slots=True)
class Embedded:
    """What an event carries of the notebook, and the journal entry of sending it."""

    carnet: dict[str, Any]
    entry: dict[str, Any]


def embedded(
    session: Session,
    matrix: Matrix,
    subscription: Subscription,
    delivery: Delivery,
    validator: Validator,
    now: datetime,
) -> Embedded | None:
    """The changed sections the subscriber may receive now (None: nothing to embed — not
    asked, a heartbeat, its client or organisation disabled, outside its need to know,
    nothing of them exportable).

    A delivery queued before its client was disabled is still sent by the worker, as the
    event alone (what a subscription without ``inclure_sections`` gets): no section leaves
    for a client whose own reads are refused."""
    if not subscription.inclure_sections or delivery.carnet_id is None:
        return None
    client = organisations.client(session, subscription.client_id)
    if client is None or not client.actif:
        return None
    carnet_id = delivery.carnet_id
    organisation = organisations.organisation(session, subscription.organisation_id)
    territoire = notebooks.territory_of(session, carnet_id)
    if organisation is None or not organisation.actif or territoire is None:
        return None
    actor = matrix.actor(organisation.type_acteur, overrides(organisation.derogations))
    role = notebooks.role_of(session, carnet_id, organisation.id)
    # What the actor may export, for the purpose the subscription states (every free text as
    # the referent structure, its own otherwise).
    finalite = subscription.finalite
    exported = exportable(actor)
    allowed = matrix.readable(actor, finalite, referent_structure=role == "referent") & exported
    own_text = FREE_TEXT in exported and matrix.serves_free_text(finalite)
    # The subscription's own filters narrow what it receives, never widen it.
    wanted_categories = frozenset(json_list(subscription.categories))
    if wanted_categories:
        allowed &= wanted_categories
        own_text = own_text and FREE_TEXT in wanted_categories
    wanted_sections = frozenset(json_list(subscription.sections))
    if not allowed or not may_see(
        actor.portee, territoire, json_list(organisation.territoires), role is not None
    ):
        return None
    vue, _ = notebooks.stored_view(session, carnet_id)
    own = source_key(organisation.id) if own_text else None
    view = project(orjson.loads(vue), allowed, validator, own=own)
    sections = {
        name: _payload(view[name])
        for name in delivery.sections
        if name in view and (not wanted_sections or name in wanted_sections)
    }
    if not sections:
        return None  # nothing of what changed may leave: the event alone
    categories = categories_of(sections, validator.referential)
    carnet = {
        "version": view["version"],
        "version_referentiel": view["version_referentiel"],
        "sections": sections,
    }
    entry = {
        "horodatage": now,
        "client_id": subscription.client_id,
        "organisation_id": organisation.id,
        "type_acteur": organisation.type_acteur,
        "carnet_id": carnet_id,
        "action": ACTION,
        "categories": categories,
        "finalite": subscription.finalite,
        "resultat": "servi",
    }
    return Embedded(carnet, entry)


#: What the view adds to the items of a collection: who said it, when (not referential data).
VIEW_ONLY = frozenset({"provenance", "provenances"})


def _payload(value: Any) -> Any:
    """A section of the view as the referential writes it: without the provenance the view
    gives each item (the embedded sections are instances of the referential's schemas)."""
    if isinstance(value, list):
        return [_payload(item) for item in value]
    if isinstance(value, dict):
        return {k: _payload(v) for k, v in value.items() if k not in VIEW_ONLY}
    return value


def violations(carnet: dict[str, Any], validator: Validator) -> list[Violation]:
    """Where the embedded sections depart from the published schemas of their referential
    version (``/donnees/carnet/sections/<section>…``)."""
    checked = validator.for_version(carnet["version_referentiel"])
    found = []
    for name, value in carnet["sections"].items():
        # A list section (axes, evenements…): each item is an instance of the section's kind.
        located = (
            [(f"/{i}", item) for i, item in enumerate(value)]
            if isinstance(value, list)
            else [("", value)]
        )
        for where, instance in located:
            report = checked.validate(name, orjson.dumps(instance))
            found += [
                Violation(f"/donnees/carnet/sections/{name}{where}{error.pointer}", error.code)
                for error in report.errors
            ]
    return found
