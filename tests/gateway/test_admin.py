"""The operators' administration API: organisations and clients of their territories only,
and the access journal."""

from gateway.organisations.service import create_client, create_organisation
from tests.gateway.conftest import Partner
from tests.gateway.payloads import new_notebook, view


async def operator(client, db, territoires=("26",)):
    with db.write() as session:
        organisation = create_organisation(
            session, nom="CD opérateur", type_acteur="departement", territoires=list(territoires)
        )
        created = create_client(
            session, organisation_id=organisation.id, nom="admin", operateur=True
        )
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.client.client_id, created.secret),
    )
    assert "administration" in response.json()["scope"].split()
    return Partner(
        organisation.id, created.client.client_id, created.secret, response.json()["access_token"]
    )


async def test_an_operator_registers_an_organisation_and_its_client(client, db):
    admin = await operator(client, db)
    created = await client.post(
        "/v1/admin/organisations",
        json={
            "nom": "Association Tremplin",
            "type_acteur": "structure_insertion",
            "territoires": ["26"],
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    organisation = created.json()["id"]
    new_client = await client.post(
        f"/v1/admin/organisations/{organisation}/clients", json={"nom": "SI"}, headers=admin.headers
    )
    assert new_client.status_code == 201
    assert new_client.headers["cache-control"] == "no-store"
    credentials = new_client.json()
    token = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )
    assert token.status_code == 200
    assert "administration" not in token.json()["scope"]
    listed = (await client.get("/v1/admin/organisations", headers=admin.headers)).json()
    assert organisation in [o["id"] for o in listed]


async def test_an_operator_acts_within_its_territories_only(client, db, partner):
    admin = await operator(client, db)
    outside = await client.post(
        "/v1/admin/organisations",
        json={"nom": "Ailleurs", "type_acteur": "ccas_cias", "territoires": ["26", "07"]},
        headers=admin.headers,
    )
    assert outside.status_code == 403
    assert outside.json()["code"] == "hors_territoires"
    ardeche = await partner("departement", ["07"])
    for response in (
        await client.post(
            f"/v1/admin/clients/{ardeche.client_id}/desactivation", headers=admin.headers
        ),
        await client.post(f"/v1/admin/clients/{ardeche.client_id}/secret", headers=admin.headers),
        await client.post(
            f"/v1/admin/organisations/{ardeche.organisation_id}/clients",
            json={"nom": "x"},
            headers=admin.headers,
        ),
    ):
        assert response.status_code == 404, response.text
    listed = (await client.get("/v1/admin/organisations", headers=admin.headers)).json()
    assert ardeche.organisation_id not in [o["id"] for o in listed]


async def test_disabling_a_client_or_organisation_cuts_its_tokens_at_once(client, db, partner):
    admin = await operator(client, db)
    p = await partner("structure_insertion")
    assert (await client.get("/v1/carnets", headers=p.headers)).status_code == 200
    assert (
        await client.post(f"/v1/admin/clients/{p.client_id}/desactivation", headers=admin.headers)
    ).status_code == 204
    assert (await client.get("/v1/carnets", headers=p.headers)).status_code == 401
    other = await partner("mission_locale")
    await client.post(
        f"/v1/admin/organisations/{other.organisation_id}/desactivation", headers=admin.headers
    )
    assert (await client.get("/v1/carnets", headers=other.headers)).status_code == 401


async def test_partners_without_the_administration_scope_are_refused(client, partner):
    p = await partner()
    response = await client.get("/v1/admin/organisations", headers=p.headers)
    assert response.status_code == 403
    assert 'scope="administration"' in response.headers["www-authenticate"]
    assert (
        await client.get("/v1/journal", params={"carnet": "x"}, headers=p.headers)
    ).status_code == 403


async def test_the_operator_reads_the_journal_of_its_territories(client, db, partner):
    admin = await operator(client, db)
    p = await partner("structure_insertion")
    carnet_id = await new_notebook(client, p)
    await view(client, p, carnet_id)
    by_notebook = await client.get(
        "/v1/journal", params={"carnet": carnet_id}, headers=admin.headers
    )
    assert [e["action"] for e in by_notebook.json()["entrees"]] == ["creation", "lecture"]
    by_organisation = await client.get(
        "/v1/journal", params={"organisation": p.organisation_id}, headers=admin.headers
    )
    assert len(by_organisation.json()["entrees"]) == 2
    assert (await client.get("/v1/journal", headers=admin.headers)).status_code == 400
    stranger = await operator(client, db, territoires=("07",))
    refused = await client.get(
        "/v1/journal", params={"carnet": carnet_id}, headers=stranger.headers
    )
    assert refused.status_code == 404


async def test_an_operator_cannot_give_itself_or_others_a_departements_reach(client, db, partner):
    admin = await operator(client, db)
    departement = await client.post(
        "/v1/admin/organisations",
        json={"nom": "Faux département", "type_acteur": "departement", "territoires": ["26"]},
        headers=admin.headers,
    )
    assert departement.status_code == 403
    other_departement = await partner("departement")
    stolen = await client.post(
        f"/v1/admin/clients/{other_departement.client_id}/secret", headers=admin.headers
    )
    assert stolen.status_code == 404
    structure = await partner("structure_insertion")
    escalation = await client.post(
        f"/v1/admin/organisations/{structure.organisation_id}/clients",
        json={"nom": "admin", "operateur": True},
        headers=admin.headers,
    )
    assert escalation.status_code == 403


async def test_only_an_operator_of_a_departement_administers(client, db):
    with db.write() as session:
        organisation = create_organisation(
            session, nom="CCAS", type_acteur="ccas_cias", territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="a", operateur=True)
    token = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.client.client_id, created.secret),
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = await client.get("/v1/admin/organisations", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "operateur_non_habilite"


async def test_a_huge_journal_cursor_is_400_not_500(client, db, partner):
    admin = await operator(client, db)
    p = await partner()
    carnet_id = await new_notebook(client, p)
    huge = str(2**70)
    for response in (
        await client.get(
            f"/v1/carnets/{carnet_id}/journal", params={"apres": huge}, headers=p.headers
        ),
        await client.get(
            "/v1/journal", params={"carnet": carnet_id, "apres": huge}, headers=admin.headers
        ),
    ):
        assert response.status_code == 400, response.text
