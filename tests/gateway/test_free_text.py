"""Free text is a category of its own (``texte_libre``): « Suivi SPIP » typed by one partner in
an event's label is served to that partner and to the notebook's referent structure, never to a
partner that shares the notebook without having written it — on reads, section reads, write
answers, replays and embedded webhook sections."""

import json

import pytest
from sqlalchemy import text

from tests.gateway.payloads import carnet, contribute, join, new_notebook
from tests.gateway.receiver import serve
from tests.gateway.test_embedding import deliver

SECRET = "Suivi SPIP"
#: What a mission locale writes: every free-text field, each telling more than its part's
#: category (parcours, accompagnement, situation).
WRITTEN = {
    "evenements": [
        {
            "id": "ml-1",
            "type": "autre",
            "date": "2026-03-02T09:00:00Z",
            "libelle": f"{SECRET} : entretien avec le conseiller d'insertion",
        }
    ],
    "rendez_vous": [
        {
            "id": "ml-rdv-1",
            "date": "2026-03-10T09:00:00Z",
            "statut": "a_venir",
            "objet": f"{SECRET} : point avant audience",
        }
    ],
    "situation": {
        "projets_professionnels": [{"code_rome": "K2204", "appellation": f"{SECRET} : TIG"}]
    },
    "axes": [
        {
            "theme": "logement",
            "objectifs": [
                {
                    "code": "logement.acceder_logement",
                    "statut": "en_cours",
                    "actions": [
                        {
                            "hors_referentiel": True,
                            "libelle": f"{SECRET} : démarches",
                            "statut": "en_cours",
                        }
                    ],
                }
            ],
        }
    ],
}
#: The orientation a département records, with its free text.
ORIENTATION = {
    "orientation": {
        "type": "social",
        "dispositif": f"{SECRET} : dispositif",
        "date": "2026-03-01",
        "motif": f"{SECRET} : motif de l'orientation",
    }
}


@pytest.fixture
def receiver():
    yield from serve()


async def read(client, p, carnet_id, path=""):
    response = await client.get(f"/v1/carnets/{carnet_id}{path}", headers=p.headers)
    assert response.status_code == 200, response.text
    return response


def masked(view):
    return {m["categorie"]: m["raison"] for m in view["masques"]}


async def arrange(client, partner):
    """A notebook created by a département, which records an orientation; a mission locale
    and a CCAS join it, and the mission locale writes free text."""
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, carnet(**ORIENTATION))
    mission_locale = await partner("mission_locale")
    await join(client, mission_locale, carnet_id)
    ccas = await partner("ccas_cias")
    await join(client, ccas, carnet_id)
    written = await contribute(client, mission_locale, carnet_id, WRITTEN)
    assert written.status_code == 200, written.text
    return carnet_id, departement, mission_locale, ccas


def assert_free_text_withheld(view):
    """The parts are served, their free text is not."""
    [event] = [e for e in view["evenements"] if e["id"] == "ml-1"]
    assert "libelle" not in event
    assert event["type"] == "autre"
    [appointment] = view["rendez_vous"]
    assert "objet" not in appointment
    assert appointment["statut"] == "a_venir"
    [projet] = view["situation"]["projets_professionnels"]
    assert "appellation" not in projet
    assert projet["code_rome"] == "K2204"
    # An action out of the referential is its label: withheld whole, its objective served.
    [objectif] = view["axes"][0]["objectifs"]
    assert objectif["actions"] == []
    assert objectif["code"] == "logement.acceder_logement"
    assert "dispositif" not in view["orientation"]
    assert "motif" not in view["orientation"]
    assert view["orientation"]["type"] == "social"
    assert masked(view)["texte_libre"] == "auteur_ou_referent"


async def test_free_text_is_served_to_its_author_only(client, partner):
    carnet_id, departement, mission_locale, ccas = await arrange(client, partner)
    # The CCAS, a member that wrote none of it, reads the parts without their free text.
    response = await read(client, ccas, carnet_id)
    assert SECRET.encode() not in response.content
    assert_free_text_withheld(response.json())
    # The mission locale reads its own, not the département's orientation text.
    own = (await read(client, mission_locale, carnet_id)).json()
    [event] = [e for e in own["evenements"] if e["id"] == "ml-1"]
    assert event["libelle"].startswith(SECRET)
    assert own["rendez_vous"][0]["objet"].startswith(SECRET)
    assert own["situation"]["projets_professionnels"][0]["appellation"].startswith(SECRET)
    assert own["axes"][0]["objectifs"][0]["actions"][0]["libelle"].startswith(SECRET)
    assert "motif" not in own["orientation"]
    assert "dispositif" not in own["orientation"]
    assert masked(own)["texte_libre"] == "auteur_ou_referent"
    # The département (territorial mission, no referent structure) reads its orientation's
    # text and none of the mission locale's.
    steering = (await read(client, departement, carnet_id)).json()
    assert steering["orientation"]["motif"].startswith(SECRET)
    [event] = [e for e in steering["evenements"] if e["id"] == "ml-1"]
    assert "libelle" not in event
    assert "objet" not in steering["rendez_vous"][0]


async def test_the_projection_cache_never_serves_one_author_s_text_to_another(client, partner):
    carnet_id, _, mission_locale, ccas = await arrange(client, partner)
    for _ in range(2):
        # Same version, same readable categories: only the author differs.
        mine = await read(client, mission_locale, carnet_id)
        assert SECRET.encode() in mine.content
        theirs = await read(client, ccas, carnet_id)
        assert SECRET.encode() not in theirs.content
    section = await read(client, ccas, carnet_id, "/evenements")
    assert SECRET.encode() not in section.content


async def test_the_referent_structure_reads_every_free_text(client, partner):
    carnet_id, departement, mission_locale, ccas = await arrange(client, partner)
    designated = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={"organisation_id": ccas.organisation_id, "role": "referent"},
        headers=departement.headers,
    )
    assert designated.status_code == 201, designated.text
    view = (await read(client, ccas, carnet_id)).json()
    [event] = [e for e in view["evenements"] if e["id"] == "ml-1"]
    assert event["libelle"].startswith(SECRET)
    assert view["orientation"]["motif"].startswith(SECRET)
    assert "texte_libre" not in masked(view)
    # Another referent structure designated, it stays a member, served its own free text.
    designated = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={"organisation_id": mission_locale.organisation_id, "role": "referent"},
        headers=departement.headers,
    )
    assert designated.status_code == 201, designated.text
    assert SECRET.encode() not in (await read(client, ccas, carnet_id)).content
    referent = (await read(client, mission_locale, carnet_id)).json()
    assert referent["orientation"]["motif"].startswith(SECRET)


async def test_a_write_answer_and_its_replay_serve_the_writer_s_text_only(client, partner):
    carnet_id, _, _, ccas = await arrange(client, partner)
    own = {
        "evenements": [
            {"id": "ccas-9", "type": "autre", "date": "2026-03-05T09:00:00Z", "libelle": "Visite"}
        ]
    }
    headers = {"Prefer": "return=representation", "Idempotency-Key": "ccas-visite"}
    for attempt in range(2):
        answer = await contribute(client, ccas, carnet_id, own, **headers)
        assert answer.status_code == 200, answer.text
        assert ("idempotent-replayed" in answer.headers) == (attempt == 1)
        assert SECRET.encode() not in answer.content
        events = {e["id"]: e for e in answer.json()["carnet"]["evenements"]}
        assert events["ccas-9"]["libelle"] == "Visite"
        assert "libelle" not in events["ml-1"]


async def test_instructing_rsa_rights_serves_no_free_text_not_even_one_s_own(client, partner):
    carnet_id, departement, _, _ = await arrange(client, partner)
    response = await client.get(
        f"/v1/carnets/{carnet_id}", headers=departement.headers | {"Finalite": "instruction_rsa"}
    )
    assert response.status_code == 200, response.text
    assert SECRET.encode() not in response.content
    assert masked(response.json())["texte_libre"] == "hors_finalite"


async def test_embedded_sections_carry_the_subscriber_s_free_text_only(
    client, partner, receiver, db
):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, carnet(**ORIENTATION))
    france_travail = await partner("france_travail")
    await join(client, france_travail, carnet_id)
    mission_locale = await partner("mission_locale")
    await join(client, mission_locale, carnet_id)
    subscribed = await client.post(
        "/v1/abonnements",
        json={"url": receiver.url, "inclure_sections": True, "finalite": "partage"},
        headers=france_travail.headers,
    )
    assert subscribed.status_code == 201, subscribed.text
    written = await contribute(client, mission_locale, carnet_id, WRITTEN)
    assert written.status_code == 200, written.text
    assert await deliver(db) == 1
    client.accesses.append("livraison")  # the worker's access, journaled
    [received] = receiver.received
    assert SECRET.encode() not in received.body
    sections = json.loads(received.body)["donnees"]["carnet"]["sections"]
    events = {e["id"]: e for e in sections["evenements"]}
    assert "libelle" not in events["ml-1"]
    # Its own event (written when it joined) comes with its label.
    assert events["rattachement-france_travail"]["libelle"] == "Rattachement au carnet"
    with db.read() as session:
        [(categories,)] = session.execute(
            text("SELECT categories FROM journal WHERE carnet_id = :id AND action = 'livraison'"),
            {"id": carnet_id},
        ).all()
    journaled = json.loads(categories) if isinstance(categories, str) else categories
    assert "texte_libre" in journaled
