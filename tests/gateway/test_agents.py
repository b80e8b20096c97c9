"""Named agents: the categories the matrix reserves to the referent ("(ref)": health and
justice) are served to, and recorded by, the designated referent agent of the referent
structure or an agent habilitated for them — never to an organisation as a whole."""

from sqlmodel import col, select

from gateway.habilitation import load_matrix
from gateway.storage.tables import JournalEntry
from tests.gateway.payloads import body, carnet, new_notebook
from tests.gateway.test_admin import operator
from tests.gateway.test_followup import FULL, designate

MATRIX = load_matrix()
RESERVED = {"sante_handicap", "justice"}


async def read(client, headers, carnet_id):
    return await client.get(f"/v1/carnets/{carnet_id}", headers=headers)


async def contribute(client, headers, carnet_id, document):
    return await client.post(
        f"/v1/carnets/{carnet_id}/contributions", content=body(document), headers=headers
    )


def masked(view):
    return {m["categorie"]: m["raison"] for m in view["masques"]}


async def new_agent(client, admin, organisation_id, habilitations=()):
    created = await client.post(
        f"/v1/admin/organisations/{organisation_id}/agents",
        json={
            "nom": "Agent",
            "courriel": "agent@example.org",
            "role": "conseiller",
            "habilitations": list(habilitations),
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_without_an_agent_the_reserved_categories_are_masked(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    anonymous = (await read(client, departement.without_agent, carnet_id)).json()
    assert {c: r for c, r in masked(anonymous).items() if c in RESERVED} == {
        "sante_handicap": "reserve_referent",
        "justice": "reserve_referent",
    }
    assert "rqth" not in anonymous.get("situation", {})
    habilitated = (await read(client, departement.headers, carnet_id)).json()
    assert not RESERVED & set(masked(habilitated))
    assert habilitated["situation"]["rqth"] is True


async def test_an_unknown_agent_is_refused(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    other = await partner("departement")
    for agent in ("inconnu", other.agent):
        refused = await read(client, departement.without_agent | {"Agent": agent}, carnet_id)
        assert refused.status_code == 403
        assert refused.json()["code"] == "agent_inconnu"
    written = await contribute(
        client, departement.without_agent | {"Agent": other.agent}, carnet_id, {}
    )
    assert written.status_code == 403


async def test_the_designated_referent_agent_is_served_and_no_other(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    structure = await partner("structure_insertion")
    admin = await operator(client, db)
    referent = await new_agent(client, admin, structure.organisation_id)
    colleague = await new_agent(client, admin, structure.organisation_id)
    designated = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={
            "organisation_id": structure.organisation_id,
            "role": "referent",
            "agent_id": referent,
        },
        headers=departement.headers,
    )
    assert designated.status_code == 201, designated.text
    assert designated.json()["agent_referent"] == referent
    base = structure.without_agent
    served = (await read(client, base | {"Agent": referent}, carnet_id)).json()
    assert not RESERVED & set(masked(served))
    for other in ({"Agent": colleague}, {}):
        view = (await read(client, base | other, carnet_id)).json()
        assert RESERVED <= set(masked(view))
    # Another referent agent designated: the first one is served no more.
    await designate(client, departement, carnet_id, structure.organisation_id, "referent")
    again = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={
            "organisation_id": structure.organisation_id,
            "role": "referent",
            "agent_id": colleague,
        },
        headers=departement.headers,
    )
    assert again.status_code == 201
    view = (await read(client, base | {"Agent": referent}, carnet_id)).json()
    assert RESERVED <= set(masked(view))


async def test_an_agent_of_another_structure_cannot_be_designated_referent(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion")
    other = await partner("structure_insertion")
    refused = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={
            "organisation_id": structure.organisation_id,
            "role": "referent",
            "agent_id": other.agent,
        },
        headers=departement.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/agent_id"


async def test_recording_a_reserved_category_needs_the_agent(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    health = {"situation": {"rqth": True}}
    refused = await contribute(client, departement.without_agent, carnet_id, health)
    assert refused.status_code == 403
    assert {e["code"] for e in refused.json()["errors"]} == {"reserve_referent"}
    view = (await read(client, departement.headers, carnet_id)).json()
    assert "rqth" not in view.get("situation", {})
    assert (await contribute(client, departement.headers, carnet_id, health)).status_code == 200


async def test_the_journal_names_the_agent(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, carnet())
    await read(client, departement.headers, carnet_id)
    with db.read() as session:
        entries = session.exec(
            select(JournalEntry)
            .where(JournalEntry.carnet_id == carnet_id)
            .order_by(col(JournalEntry.seq))
        ).all()
    assert [e.agent for e in entries] == [departement.agent, departement.agent]


async def test_operators_manage_their_agents(client, partner, db):
    admin = await operator(client, db)
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    agent = await new_agent(client, admin, structure.organisation_id)
    listed = await client.get(
        f"/v1/admin/organisations/{structure.organisation_id}/agents", headers=admin.headers
    )
    assert agent in [a["id"] for a in listed.json()["elements"]]
    granted = await client.put(
        f"/v1/admin/agents/{agent}/habilitations",
        json={"habilitations": ["sante_handicap"]},
        headers=admin.headers,
    )
    assert granted.json()["habilitations"] == ["sante_handicap"]
    carnet_id = await new_notebook(client, departement, FULL)
    await designate(client, departement, carnet_id, structure.organisation_id)
    view = (await read(client, structure.without_agent | {"Agent": agent}, carnet_id)).json()
    assert "sante_handicap" not in masked(view)
    assert masked(view).get("justice") == "reserve_referent"
    disabled = await client.post(f"/v1/admin/agents/{agent}/desactivation", headers=admin.headers)
    assert disabled.json()["actif"] is False
    refused = await read(client, structure.without_agent | {"Agent": agent}, carnet_id)
    assert refused.status_code == 403
    # Another territory's operator administers none of them.
    stranger = await operator(client, db, territoires=("27",))
    assert (
        await client.get(
            f"/v1/admin/organisations/{structure.organisation_id}/agents",
            headers=stranger.headers,
        )
    ).status_code == 404


def test_the_reserved_categories_follow_the_legal_frame():
    assert MATRIX.actor("departement").reserve == RESERVED
    assert MATRIX.actor("france_travail").reserve == {"sante_handicap"}
    assert not MATRIX.actor("cap_emploi").reserve  # (rel): the whole organisation
    for kind in ("mission_locale", "ccas_cias", "structure_insertion"):
        assert MATRIX.actor(kind).reserve == RESERVED
