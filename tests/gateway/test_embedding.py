"""Subscriptions that embed the changed sections: projected on what the organisation may
export, journaled with the subscription's purpose, refused without an export right."""

import asyncio
import json

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.habilitation import load_matrix
from gateway.habilitation.overrides import decide
from gateway.subscriptions.worker import Worker
from tests.gateway.payloads import carnet, new_notebook, personne
from tests.gateway.receiver import serve
from tests.gateway.test_habilitation import FULL

URL = "/v1/abonnements"
#: A notebook of every category: health and justice among them (its diagnostic too).
DOCUMENT = FULL


@pytest.fixture
def receiver():
    yield from serve()


async def subscribe(client, p, url, **fields):
    return await client.post(URL, json={"url": url} | fields, headers=p.headers)


async def deliver(db):
    worker = Worker(db)
    try:
        return await asyncio.to_thread(worker.run_once)
    finally:
        worker.close()


def queued(db, subscription_id):
    with db.read() as session:
        return session.execute(
            text("SELECT count(*) FROM livraisons WHERE abonnement_id = :id"),
            {"id": subscription_id},
        ).scalar_one()


def journaled(db, carnet_id):
    with db.read() as session:
        return session.execute(
            text(
                "SELECT client_id, organisation_id, action, categories, finalite, resultat"
                " FROM journal WHERE carnet_id = :id AND action = 'livraison'"
            ),
            {"id": carnet_id},
        ).all()


async def test_the_changed_sections_are_embedded_as_far_as_the_organisation_may_export(
    client, partner, receiver, db
):
    departement = await partner("departement")
    response = await subscribe(
        client, departement, receiver.url, inclure_sections=True, finalite="partage"
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["inclure_sections"] is True
    assert created["finalite"] == "partage"
    carnet_id = await new_notebook(client, departement, DOCUMENT)
    assert await deliver(db) == 1
    client.accesses.append("livraison")  # the worker's access, journaled (checked at the end)
    [received] = receiver.received
    Webhook(created["secret"]).verify(received.body, received.headers)
    data = json.loads(received.body)["donnees"]
    assert data["carnet"]["version"] == 1
    assert data["carnet"]["version_referentiel"] == "2026.1"
    sections = data["carnet"]["sections"]
    assert sections["personne"]["nom_naissance"] == "Autrement"
    assert {"coordonnees", "droits", "axes", "evenements"} <= set(sections)
    assert all("provenance" not in item for item in sections["evenements"])
    # Health and justice are read by a département, never exported (the matrix).
    assert sections["situation"] == {"niveau_formation": "afs"}
    assert [s["code"] for s in sections["diagnostic"]["situations"]] == [
        "logement.heberge_chez_tiers"
    ]
    [(client_id, organisation_id, action, categories, finalite, resultat)] = journaled(
        db, carnet_id
    )
    assert (client_id, organisation_id) == (departement.client_id, departement.organisation_id)
    assert (action, finalite, resultat) == ("livraison", "partage", "servi")
    served = json.loads(categories) if isinstance(categories, str) else categories
    assert "sante_handicap" not in served
    assert "justice" not in served
    assert "identite" in served


async def test_without_embedding_nothing_personal_leaves_and_nothing_is_journaled(
    client, partner, receiver, db
):
    departement = await partner("departement")
    assert (await subscribe(client, departement, receiver.url)).status_code == 201
    carnet_id = await new_notebook(client, departement, DOCUMENT)
    assert await deliver(db) == 1
    [received] = receiver.received
    assert b"Autrement" not in received.body
    assert "carnet" not in json.loads(received.body)["donnees"]
    assert journaled(db, carnet_id) == []


async def test_an_organisation_that_no_longer_may_export_gets_the_event_alone(
    client, partner, receiver, db
):
    departement = await partner("departement")
    fields = {"inclure_sections": True, "finalite": "partage"}
    assert (await subscribe(client, departement, receiver.url, **fields)).status_code == 201
    with db.write() as session:
        decide(
            session,
            load_matrix(),
            organisation_id=departement.organisation_id,
            categorie="identite",
            droit="export",
            effet="retire",
            motif="Convention suspendue",
            auteur="DPO du département",
        )
    carnet_id = await new_notebook(client, departement)  # the identity alone
    assert await deliver(db) == 1
    [received] = receiver.received
    assert "carnet" not in json.loads(received.body)["donnees"]
    assert b"Exemple" not in received.body
    assert journaled(db, carnet_id) == []


async def test_a_disabled_client_gets_no_section_and_no_new_delivery(
    client, partner, receiver, db, monkeypatch
):
    departement = await partner("departement")
    response = await subscribe(
        client, departement, receiver.url, inclure_sections=True, finalite="partage"
    )
    assert response.status_code == 201, response.text
    subscription_id = response.json()["id"]
    carnet_id = await new_notebook(client, departement, DOCUMENT)  # queued while it was active
    assert queued(db, subscription_id) == 1
    monkeypatch.setenv("CARNET_DATABASE_URL", db.engine.url.render_as_string(False))
    disabled = CliRunner().invoke(cli, ["clients", "disable", "--client", departement.client_id])
    assert disabled.exit_code == 0, disabled.output
    assert (
        await client.get(f"/v1/carnets/{carnet_id}", headers=departement.headers)
    ).status_code == 401
    # The delivery queued before goes as the event alone: none of the notebook leaves.
    assert await deliver(db) == 1
    [received] = receiver.received
    assert "carnet" not in json.loads(received.body)["donnees"]
    assert b"Autrement" not in received.body
    assert journaled(db, carnet_id) == []
    # A change afterwards queues nothing for it (another client's subscription still gets it).
    other = await partner("departement")
    assert (await subscribe(client, other, receiver.url)).status_code == 201
    await new_notebook(client, other, carnet(personne(nom="Suivante")))
    assert queued(db, subscription_id) == 1
    assert await deliver(db) == 1
    assert len(receiver.received) == 2


@pytest.mark.parametrize(
    ("filters", "embedded", "served"),
    [
        # The département wrote the events: their labels (free text) are its own.
        ({"sections": ["evenements"]}, {"evenements"}, ["parcours", "texte_libre"]),
        (
            {"sections": ["personne", "situation"]},
            {"personne", "situation"},
            ["identite", "situation"],
        ),
        (
            {"categories": ["identite", "situation"]},
            {"personne", "situation", "diagnostic"},
            ["identite", "situation"],
        ),
        # Both filters, and a category it may not export (health): asked, still withheld.
        (
            {"sections": ["situation"], "categories": ["situation", "sante_handicap"]},
            {"situation"},
            ["situation"],
        ),
    ],
)
async def test_only_what_the_subscription_filters_name_is_embedded_and_journaled(
    client, partner, receiver, db, filters, embedded, served
):
    departement = await partner("departement")
    response = await subscribe(
        client, departement, receiver.url, inclure_sections=True, finalite="partage", **filters
    )
    assert response.status_code == 201, response.text
    carnet_id = await new_notebook(client, departement, DOCUMENT)
    assert await deliver(db) == 1
    client.accesses.append("livraison")
    [received] = receiver.received
    sections = json.loads(received.body)["donnees"]["carnet"]["sections"]
    assert set(sections) == embedded
    if "situation" in sections:
        assert sections["situation"] == {"niveau_formation": "afs"}  # never its health part
    if "categories" in filters:
        assert b"Entretien" not in received.body
        assert b"courriel" not in received.body
    [(_, _, _, categories, _, resultat)] = journaled(db, carnet_id)
    assert resultat == "servi"
    assert sorted(json.loads(categories) if isinstance(categories, str) else categories) == served


@pytest.mark.parametrize(
    ("kind", "fields", "errors"),
    [
        (
            "structure_insertion",
            {"inclure_sections": True, "finalite": "partage"},
            [("/inclure_sections", "export_non_autorise")],
        ),
        ("departement", {"inclure_sections": True}, [("/finalite", "finalite_requise")]),
        (
            "departement",
            {"inclure_sections": True, "finalite": "validation"},
            [("/finalite", "finalite_non_autorisee")],
        ),
        (
            "departement",
            {"url": "connecteur:departement_si", "inclure_sections": True, "finalite": "partage"},
            [("/inclure_sections", "inclusion_non_prise_en_charge")],
        ),
    ],
)
async def test_embedding_is_refused_with_located_errors(
    client, partner, receiver, kind, fields, errors
):
    p = await partner(kind)
    fields = dict(fields)
    response = await subscribe(client, p, fields.pop("url", receiver.url), **fields)
    assert response.status_code == 422, response.text
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == errors


async def turn_on(client, p, receiver, finalite):
    """Subscribe ``p`` without embedding, then ask for it."""
    created = (await subscribe(client, p, receiver.url)).json()
    return await client.patch(
        f"{URL}/{created['id']}",
        json={"inclure_sections": True, "finalite": finalite},
        headers=p.headers,
    )


async def test_turning_embedding_on_later_is_checked_too(client, partner, receiver):
    refused = await turn_on(client, await partner("structure_insertion"), receiver, "partage")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "export_non_autorise"
    accepted = await turn_on(client, await partner("departement"), receiver, "orientation")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["inclure_sections"] is True
