"""The need to know, exhaustively: every actor kind of the matrix × every relationship it can
have with a notebook × every operation that could reveal it × every data category.

Generated from the matrix (:func:`load_matrix`): for each actor kind, the relationship states
that make sense for it (a territorial kind is always ``territorial``; a kind of the sandbox or
without purpose has ``none`` only), one notebook holding every category, and all the
operations checked in one test per (kind, state). Expectations are computed here from the
matrix's data and the model of docs/besoin-d-en-connaitre.md, never by the gateway's own
decision code:

- within the need to know iff the state is ``member``, ``referent`` or ``territorial``;
- served: what the kind may read, narrowed by the purpose stated, the categories reserved to
  the referent only through an agent habilitated for them or the designated referent agent,
  free text (written by the département that created the notebook) only to the referent
  structure; ``masques`` lists every other category with its reason;
- outside: 404 on reads, section reads, the journal and writes; not listed by the search nor
  the change feed; no webhook delivery; a discovery without any section on identification.

Every problem found is collected, so that a failure lists all the leaks of its case at once.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from gateway.habilitation import classify, load_matrix
from gateway.habilitation.categories import CATEGORIES, FREE_TEXT
from gateway.subscriptions.worker import Worker
from referential import current_referential
from referential.models import SECTIONS
from tests.gateway.payloads import body, carnet, new_notebook, personne
from tests.gateway.receiver import serve
from tests.gateway.test_admin import operator
from tests.gateway.test_habilitation import FULL, SAMPLES, writable

MATRIX = load_matrix()
REFERENTIAL = current_referential()
INSIDE = ("member", "referent", "territorial")
RELATION_STATES = ("none", "pending", "refused", "member", "referent", "ended")
DISCOVERY_KEYS = {"id", "cree", "acces", "groupe_suivi", "rattachement"}
#: The only purpose a subscription embedding sections is checked with.
EMBEDDING_PURPOSE = "partage"


def states(kind: str) -> tuple[str, ...]:
    """The relationships an organisation of ``kind`` can have with a notebook of a real
    territory where it is registered."""
    actor = MATRIX.actor(kind)
    if actor.portee == "territoire":
        return ("territorial",)
    if actor.portee == "relation":
        return RELATION_STATES
    # The sandbox (its territory is SBX only) and the kinds without scope: no relation.
    return ("none",)


CASES = [(kind, state) for kind in MATRIX.actors for state in states(kind)]


def within(kind: str, state: str) -> bool:
    portee = MATRIX.actor(kind).portee
    if portee in ("bac_a_sable", "aucune"):
        return False
    return state in INSIDE


def expected(kind: str, purpose: str, reserved_granted: bool, free_text: bool = False) -> set[str]:
    """The categories a read by ``kind`` stating ``purpose`` is served (``free_text``: as the
    referent structure, or as the author of some)."""
    actor = MATRIX.actors[kind]
    may_read = {c for c in CATEGORIES if actor.may("lecture", c)} | (
        {FREE_TEXT} if free_text else set()
    )
    served = may_read & MATRIX.served[purpose]
    if not reserved_granted:
        served -= actor.reserve
    return served


def expected_masks(
    kind: str, purpose: str, reserved_granted: bool, referent_structure: bool
) -> list[tuple[str, str]]:
    """Every category not served, in the matrix's order, with its reason."""
    actor = MATRIX.actors[kind]
    masks = []
    for c in CATEGORIES:
        if c == FREE_TEXT:
            # Served to its author whatever the kind may read: the purpose decides first.
            if c not in MATRIX.served[purpose]:
                masks.append((c, "hors_finalite"))
            elif not (actor.may("lecture", c) or referent_structure):
                masks.append((c, "auteur_ou_referent"))
        elif not actor.may("lecture", c):
            masks.append((c, "non_habilite"))
        elif c not in MATRIX.served[purpose]:
            masks.append((c, "hors_finalite"))
        elif c in actor.reserve and not reserved_granted:
            masks.append((c, "reserve_referent"))
    return masks


def categories_of(document: dict[str, Any]) -> set[str]:
    return {category for _, category in classify(document, REFERENTIAL)}


def exportable(kind: str, referent_structure: bool = False) -> set[str]:
    actor = MATRIX.actors[kind]
    return {
        c
        for c in CATEGORIES
        if actor.may("export", c)
        and (actor.may("lecture", c) or (c == FREE_TEXT and referent_structure))
        and c in MATRIX.served[EMBEDDING_PURPOSE]
        and c not in actor.reserve
    }


def embeds(kind: str, referent_structure: bool = False) -> bool:
    return EMBEDDING_PURPOSE in MATRIX.actors[kind].finalites and bool(
        exportable(kind, referent_structure)
    )


@dataclass
class Setup:
    carnet_id: str
    creator: Any
    actor: Any
    #: Header sets of the actor and whether each is served the reserved categories.
    readers: dict[str, tuple[dict[str, str], bool]] = field(default_factory=dict)


@dataclass
class Problems:
    """Every unexpected answer of one case (a leak or a wrong refusal)."""

    found: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, response: Any = None) -> None:
        if not ok:
            detail = f" → {response.status_code} {response.text[:300]}" if response else ""
            self.found.append(what + detail)


async def new_agent(client, db, organisation_id: str) -> str:
    """An agent of the organisation, habilitated for nothing (through the administration
    API, by a national operator)."""
    admin = await operator(client, db, national=True)
    created = await client.post(
        f"/v1/admin/organisations/{organisation_id}/agents",
        json={"nom": "Agent", "courriel": "agent@example.org", "role": "conseiller"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def arrange(client, partner, db, kind: str, state: str) -> Setup:
    """A notebook of every category created by the territory's département, and an
    organisation of ``kind`` (another one for a département) in the relationship ``state``."""
    creator = await partner("departement")
    carnet_id = await new_notebook(client, creator, FULL)
    actor = await partner(kind)
    setup = Setup(carnet_id, creator, actor)
    setup.readers["agent_habilite"] = (actor.headers, actor.agent is not None)
    if actor.agent is not None:
        setup.readers["sans_agent"] = (actor.without_agent, False)
    group = f"/v1/carnets/{carnet_id}/groupe-de-suivi"
    if state in ("pending", "refused"):
        asked = await client.post(
            f"/v1/carnets/{carnet_id}/rattachements",
            json={"motif": "Accompagnement engagé"},
            headers=actor.headers,
        )
        assert asked.status_code == 201, asked.text
        if state == "refused":
            decided = await client.post(
                f"/v1/carnets/{carnet_id}/rattachements/{asked.json()['id']}/decision",
                json={"decision": "refuse"},
                headers=creator.headers,
            )
            assert decided.status_code == 200, decided.text
    elif state in ("member", "referent"):
        # An agent habilitated for nothing: served the reserved categories only as the
        # designated referent agent.
        plain = await new_agent(client, db, actor.organisation_id)
        designation = {"organisation_id": actor.organisation_id, "role": "membre"}
        if state == "referent":
            designation = designation | {"role": "referent", "agent_id": plain}
        designated = await client.post(group, json=designation, headers=creator.headers)
        assert designated.status_code == 201, designated.text
        setup.readers["agent_simple"] = (
            actor.without_agent | {"Agent": plain},
            state == "referent",
        )
    elif state == "ended":
        designated = await client.post(
            group, json={"organisation_id": actor.organisation_id}, headers=creator.headers
        )
        assert designated.status_code == 201, designated.text
        ended = await client.delete(f"{group}/{designated.json()['id']}", headers=creator.headers)
        assert ended.status_code == 200, ended.text
    else:
        assert state in ("none", "territorial"), state
    return setup


async def version_of(client, setup: Setup) -> int:
    seen = await client.get(f"/v1/carnets/{setup.carnet_id}", headers=setup.creator.headers)
    assert seen.status_code == 200, seen.text
    return int(seen.json()["version"])


@pytest.fixture
def receiver():
    yield from serve()


@pytest.mark.parametrize(("kind", "state"), CASES, ids=[f"{k}-{s}" for k, s in CASES])
async def test_need_to_know(client, partner, db, receiver, kind, state):
    setup = await arrange(client, partner, db, kind, state)
    actor, carnet_id = setup.actor, setup.carnet_id
    rights = MATRIX.actors[kind]
    inside = within(kind, state)
    problems = Problems()
    path = f"/v1/carnets/{carnet_id}"
    first = rights.finalites[0] if rights.finalites else None
    before = await version_of(client, setup)

    if not rights.finalites:
        # No purpose opens anything: every operation is refused as such, whatever it targets.
        answers = [
            await client.get(path, headers=actor.headers),
            await client.get(f"{path}/droits", headers=actor.headers),
            await client.get(f"{path}/journal", headers=actor.headers),
            await client.get("/v1/carnets", headers=actor.headers),
            await client.get("/v1/changements", headers=actor.headers),
            await client.post("/v1/carnets", content=body(carnet()), headers=actor.headers),
            await client.post(
                f"{path}/contributions",
                content=body({"droits": {"are": True}}),
                headers=actor.headers,
            ),
        ]
        for answer in answers:
            problems.check(
                answer.status_code == 403 and answer.json()["code"] == "finalite_non_autorisee",
                f"{answer.request.method} {answer.request.url.path}",
                answer,
            )
        problems.check(await version_of(client, setup) == before, "nothing applied")
        assert not problems.found, "\n".join(problems.found)
        return

    # -- read, for every purpose of the kind and every way of naming (or not) an agent -------
    whole: dict[str, Any] = {}
    for purpose in rights.finalites:
        for name, (headers, reserved_granted) in setup.readers.items():
            label = f"lecture [{purpose}, {name}]"
            read = await client.get(path, headers=headers | {"Finalite": purpose})
            if not inside:
                problems.check(read.status_code == 404, label, read)
                continue
            if read.status_code != 200:
                problems.check(False, label, read)
                continue
            view = read.json()
            if purpose == first and name == "agent_habilite":
                whole = view
            served = expected(kind, purpose, reserved_granted, state == "referent")
            problems.check(
                categories_of(view) == served,
                f"{label}: servies {sorted(categories_of(view))}, attendues {sorted(served)}",
            )
            masks = [(m["categorie"], m["raison"]) for m in view["masques"]]
            problems.check(
                masks == expected_masks(kind, purpose, reserved_granted, state == "referent"),
                f"{label}: masques {masks}",
            )
            problems.check(all(m["base_legale"] for m in view["masques"]), f"{label}: base")

    # -- section reads -------------------------------------------------------------------------
    for section in SECTIONS:
        label = f"volet {section}"
        read = await client.get(f"{path}/{section}", headers=actor.headers)
        if not inside:
            problems.check(read.status_code == 404, label, read)
            continue
        if read.status_code != 200:
            problems.check(False, label, read)
            continue
        answer = read.json()
        problems.check(answer.get(section) == whole.get(section), f"{label}: contenu", read)
        problems.check(answer["masques"] == whole.get("masques"), f"{label}: masques", read)
        part = {section: answer[section]} if answer.get(section) is not None else {}
        problems.check(
            categories_of(part) <= expected(kind, first, True, state == "referent"),
            f"{label}: catégories",
            read,
        )

    # -- identification ------------------------------------------------------------------------
    identified = await client.post("/v1/carnets", content=body(carnet()), headers=actor.headers)
    label = "identification"
    if not rights.may("identification", "identite"):
        problems.check(identified.status_code == 403, label, identified)
    elif rights.portee == "bac_a_sable":
        # Its territory is the sandbox: the person is made up there, never found here.
        problems.check(
            identified.status_code == 201 and identified.json()["id"] != carnet_id,
            label,
            identified,
        )
    elif inside:
        answer = identified.json()
        problems.check(
            identified.status_code == 200
            and answer["id"] == carnet_id
            and "acces" not in answer
            and answer["cree"] is False,
            label,
            identified,
        )
        if identified.status_code == 200:
            embedded = categories_of(answer.get("carnet") or {})
            problems.check(
                embedded == expected(kind, first, True, state == "referent"),
                f"{label}: carnet servi {sorted(embedded)}",
            )
    else:
        answer = identified.json()
        problems.check(
            identified.status_code == 200
            and set(answer) == DISCOVERY_KEYS
            and answer["acces"] == "decouverte"
            and answer["id"] == carnet_id,
            f"{label}: découverte",
            identified,
        )
        problems.check(not set(SECTIONS) & set(answer), f"{label}: aucun volet", identified)

    # -- writes: one contribution per category the kind may write ------------------------------
    for category in CATEGORIES:
        if not writable(kind, category):
            continue
        section, content = SAMPLES[category]
        document = {section: content}
        ways = [("agent_habilite", setup.readers["agent_habilite"])]
        if category in rights.reserve:
            ways += [(n, r) for n, r in setup.readers.items() if n != "agent_habilite"]
        for name, (headers, reserved_granted) in ways:
            label = f"écriture {category} [{name}]"
            written = await client.post(
                f"{path}/contributions", content=body(document), headers=headers
            )
            if not inside:
                problems.check(written.status_code == 404, label, written)
            elif category in rights.reserve and not reserved_granted:
                problems.check(
                    written.status_code == 403
                    and {e["code"] for e in written.json().get("errors", [])}
                    == {"reserve_referent"},
                    label,
                    written,
                )
            else:
                problems.check(written.status_code == 200, label, written)

    # -- search, feed and journal --------------------------------------------------------------
    listed = await client.get("/v1/carnets", params={"limite": 100}, headers=actor.headers)
    if listed.status_code == 200:
        ids = {item["id"] for item in listed.json()["elements"]}
        problems.check((carnet_id in ids) == inside, f"recherche : listé={carnet_id in ids}")
    else:
        problems.check(False, "recherche", listed)
    feed = await client.get("/v1/changements", params={"limite": 1000}, headers=actor.headers)
    if feed.status_code == 200:
        changed = {c["carnet_id"] for c in feed.json()["elements"]}
        problems.check(
            (carnet_id in changed) == inside, f"changements : listé={carnet_id in changed}"
        )
    else:
        problems.check(False, "changements", feed)
    journal = await client.get(f"{path}/journal", headers=actor.headers)
    if not inside:
        problems.check(journal.status_code == 404, "journal", journal)
    elif journal.status_code == 200:
        entries = journal.json()["elements"]
        problems.check(bool(entries), "journal : ses accès", journal)
        problems.check(
            {e["organisation_id"] for e in entries} <= {actor.organisation_id},
            "journal : les accès des autres",
        )
        problems.check(
            # Its own writes (free text included) and its reads.
            {c for e in entries for c in e["categories"]} <= expected(kind, first, True, True),
            "journal : catégories",
        )
    else:
        problems.check(False, "journal", journal)

    if not inside:
        problems.check(await version_of(client, setup) == before, "rien d'appliqué")

    # -- webhooks: a change by the département after the relationship is set ------------------
    fields: dict[str, Any] = {"url": receiver.url}
    if embeds(kind, state == "referent"):
        fields |= {"inclure_sections": True, "finalite": EMBEDDING_PURPOSE}
    subscribed = await client.post("/v1/abonnements", json=fields, headers=actor.headers)
    assert subscribed.status_code == 201, subscribed.text
    change = {
        "coordonnees": {"courriel": "autre@example.org"},
        "droits": {"ass": True},
        "personne": personne(nom_naissance="Autrement-Bis"),
        "situation": {"niveau_formation": "c3a", "rqth": False},
        "evenements": [
            {"id": "e9", "type": "autre", "date": "2026-03-05T10:00:00Z", "libelle": "Atelier"}
        ],
    }
    changed = await client.post(
        f"{path}/contributions", content=body(change), headers=setup.creator.headers
    )
    assert changed.status_code == 200, changed.text
    worker = Worker(db)
    try:
        await asyncio.to_thread(worker.run_once)
    finally:
        worker.close()
    deliveries = [json.loads(r.body) for r in receiver.received]
    mine = [d for d in deliveries if d["donnees"].get("carnet_id") == carnet_id]
    problems.check(bool(mine) == inside, f"webhook : {len(mine)} livraison(s)")
    embedded_sections = [d["donnees"]["carnet"] for d in mine if "carnet" in d["donnees"]]
    problems.check(
        bool(embedded_sections) == (inside and embeds(kind, state == "referent")),
        f"webhook : {len(embedded_sections)} livraison(s) avec les volets",
    )
    for delivered in mine:
        sections = delivered["donnees"].get("carnet", {}).get("sections")
        if sections is None:
            continue
        client.accesses.append("livraison")  # journaled by the worker
        got = categories_of(sections)
        # Free text: every one as the referent structure, its own otherwise (it wrote some).
        wrote = writable(kind, FREE_TEXT)
        want = exportable(kind, state == "referent" or wrote) & categories_of(change)
        problems.check(got == want, f"webhook : catégories {sorted(got)}, attendues {sorted(want)}")
    with db.read() as session:
        queued = session.execute(
            text(
                "SELECT count(*) FROM livraisons l JOIN abonnements a ON a.id = l.abonnement_id"
                " WHERE l.carnet_id = :id AND a.organisation_id = :org"
            ),
            {"id": carnet_id, "org": actor.organisation_id},
        ).scalar_one()
    problems.check(queued == len(mine), "webhook : toutes livrées")

    assert not problems.found, f"{kind}/{state}:\n" + "\n".join(problems.found)
