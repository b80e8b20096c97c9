"""Replays under today's rights: the idempotency store keeps no personal data, and a replay
embeds the notebook as the caller may read it now, or answers the write's outcome alone."""

import orjson
from sqlalchemy import text
from sqlmodel import col, select

from gateway.habilitation import load_matrix
from gateway.habilitation.overrides import decide
from gateway.storage.tables import IdempotencyRecord, JournalEntry
from tests.gateway.payloads import body, carnet, contribute, new_notebook, personne

#: Made-up personal data, to be looked for where it must not be.
NAME, FIRST_NAME, EMAIL = "Quillebeuf", "Zephyrine", "zephyrine.quillebeuf@example.org"
PERSON = personne(nom=NAME, prenom=FIRST_NAME)
FULL = carnet(PERSON, coordonnees={"courriel": EMAIL}, situation={"rqth": True})
EVENT = {"id": "s-1", "type": "autre", "date": "2026-01-02T09:00:00Z", "libelle": "Entretien"}
REPRESENTATION = {"Prefer": "return=representation"}


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


async def create(client, p, document, **headers):
    return await client.post("/v1/carnets", content=body(document), headers=p.headers | headers)


def without_notebook(response) -> dict:
    answer = response.json()
    answer.pop("carnet")
    return answer


def restrict(db, p, categorie: str) -> None:
    """The organisation of ``p`` may no longer read ``categorie``."""
    with db.write() as session:
        decide(
            session,
            load_matrix(),
            organisation_id=p.organisation_id,
            categorie=categorie,
            droit="lecture",
            effet="retire",
            motif="Convention du 2026-11-02",
            auteur="DPO du département",
        )


async def test_the_idempotency_store_holds_no_personal_data(client, partner, db):
    departement = await partner("departement")
    created = await create(client, departement, FULL, **key("creation"))
    assert created.status_code == 201, created.text
    assert created.json()["carnet"]["personne"]["nom"] == NAME
    carnet_id = created.json()["id"]
    contributed = await contribute(
        client,
        departement,
        carnet_id,
        {"coordonnees": {"telephones": ["0601020304"]}},
        **key("contribution") | REPRESENTATION,
    )
    assert contributed.status_code == 200, contributed.text
    assert contributed.json()["carnet"]["coordonnees"]["courriel"] == EMAIL
    patched = await client.patch(
        f"/v1/carnets/{carnet_id}/evenements",
        content=body([EVENT]),
        headers=departement.headers | key("volet") | REPRESENTATION,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["carnet"]["personne"]["prenom"] == FIRST_NAME
    with db.read() as session:
        rows = session.execute(text("SELECT * FROM idempotence")).all()
    assert len(rows) == 3
    stored = " ".join(
        bytes(value).decode() if isinstance(value, bytes | memoryview) else str(value)
        for row in rows
        for value in row
    )
    for personal in (NAME, FIRST_NAME, EMAIL, "0601020304"):
        assert personal not in stored


async def test_a_replay_answers_the_first_answer_again(client, partner, db):
    departement = await partner("departement")
    created = await create(client, departement, FULL, **key("creation"))
    replayed = await create(client, departement, FULL, **key("creation"))
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.status_code == created.status_code == 201
    for header in ("ETag", "Location", "Content-Type"):
        assert replayed.headers[header] == created.headers[header]
    assert replayed.content == created.content
    carnet_id = created.json()["id"]
    document = {"evenements": [EVENT]}
    headers = key("contribution") | REPRESENTATION
    first = await contribute(client, departement, carnet_id, document, **headers)
    again = await contribute(client, departement, carnet_id, document, **headers)
    assert (again.status_code, again.headers["ETag"]) == (200, first.headers["ETag"])
    assert again.content == first.content
    minimal = await contribute(client, departement, carnet_id, document, **key("minimal"))
    assert "carnet" not in minimal.json()
    minimal_again = await contribute(client, departement, carnet_id, document, **key("minimal"))
    assert minimal_again.content == minimal.content
    with db.read() as session:
        records = {r.cle: r for r in session.exec(select(IdempotencyRecord)).all()}
    assert orjson.loads(records["creation"].corps) == without_notebook(created)
    assert orjson.loads(records["contribution"].corps) == without_notebook(first)
    assert [(r.avec_carnet, r.carnet_id) for r in records.values()] == [
        (True, carnet_id),
        (True, carnet_id),
        (False, None),
    ]


async def test_a_replay_after_a_restriction_withholds_the_category(client, partner, db):
    departement = await partner("departement")
    created = await create(client, departement, FULL, **key("creation"))
    assert created.json()["carnet"]["situation"]["rqth"] is True
    restrict(db, departement, "sante_handicap")
    replayed = await create(client, departement, FULL, **key("creation"))
    assert replayed.status_code == 201
    assert replayed.headers["ETag"] == created.headers["ETag"]
    answer = replayed.json()
    assert "rqth" not in answer["carnet"].get("situation", {})
    assert "/situation/rqth" not in answer["carnet"]["provenance"]
    assert [m["categorie"] for m in answer["carnet"]["masques"]] == [
        "sante_handicap",
        "texte_libre",
    ]
    assert answer["carnet"]["personne"]["nom"] == NAME
    assert {k: v for k, v in answer.items() if k != "carnet"} == without_notebook(created)
    with db.read() as session:
        replay = session.exec(select(JournalEntry).where(JournalEntry.resultat == "rejeu")).one()
    assert "identite" in replay.categories
    assert "sante_handicap" not in replay.categories


async def test_a_replay_after_leaving_the_follow_up_group_answers_the_outcome_alone(
    client, partner, db
):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    structure = await partner("structure_insertion")
    designated = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={"organisation_id": structure.organisation_id, "role": "membre"},
        headers=departement.headers,
    )
    assert designated.status_code == 201, designated.text
    document = {"evenements": [EVENT]}
    headers = key("structure") | REPRESENTATION
    first = await contribute(client, structure, carnet_id, document, **headers)
    assert first.status_code == 200, first.text
    assert first.json()["carnet"]["personne"]["nom"] == NAME
    ended = await client.delete(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi/{designated.json()['id']}",
        headers=departement.headers,
    )
    assert ended.status_code == 200, ended.text
    replayed = await contribute(client, structure, carnet_id, document, **headers)
    assert replayed.status_code == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.headers["ETag"] == first.headers["ETag"]
    assert replayed.json() == without_notebook(first)
    assert NAME.encode() not in replayed.content
    with db.read() as session:
        entries = session.exec(
            select(JournalEntry)
            .where(JournalEntry.organisation_id == structure.organisation_id)
            .order_by(col(JournalEntry.seq))
        ).all()
    assert [(e.resultat, e.categories) for e in entries][-1] == ("rejeu", [])
