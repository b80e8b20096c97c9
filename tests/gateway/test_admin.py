"""The operators' administration API: organisations and clients of their territories only,
and the access journal."""

from sqlmodel import select

from gateway.organisations.service import create_client, create_organisation
from gateway.pagination import encode
from gateway.storage.tables import Client, Organisation
from tests.gateway.conftest import Partner
from tests.gateway.payloads import new_notebook, view


async def operator(
    client, db, territoires=("26",), type_acteur="departement", national=False, dpo=False
):
    with db.write() as session:
        organisation = create_organisation(
            session, nom="CD opérateur", type_acteur=type_acteur, territoires=list(territoires)
        )
        created = create_client(
            session,
            organisation_id=organisation.id,
            nom="admin",
            operateur=True,
            national=national,
            dpo=dpo,
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
    listed = (await client.get("/v1/admin/organisations", headers=admin.headers)).json()["elements"]
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
    listed = (await client.get("/v1/admin/organisations", headers=admin.headers)).json()["elements"]
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


async def test_the_dpo_reads_the_journal_of_its_territories(client, db, partner):
    admin = await operator(client, db, dpo=True)
    p = await partner("structure_insertion")
    carnet_id = await new_notebook(client, p)
    await view(client, p, carnet_id)
    by_notebook = await client.get(
        "/v1/journal", params={"carnet": carnet_id}, headers=admin.headers
    )
    assert [e["action"] for e in by_notebook.json()["elements"]] == ["creation", "lecture"]
    by_organisation = await client.get(
        "/v1/journal", params={"organisation": p.organisation_id}, headers=admin.headers
    )
    assert len(by_organisation.json()["elements"]) == 2
    assert (await client.get("/v1/journal", headers=admin.headers)).status_code == 400
    stranger = await operator(client, db, territoires=("07",), dpo=True)
    refused = await client.get(
        "/v1/journal", params={"carnet": carnet_id}, headers=stranger.headers
    )
    assert refused.status_code == 404


async def test_an_operator_that_is_not_the_dpo_reads_no_journal(client, db, partner):
    admin = await operator(client, db)
    p = await partner("structure_insertion")
    carnet_id = await new_notebook(client, p)
    refused = await client.get("/v1/journal", params={"carnet": carnet_id}, headers=admin.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "dpo_requis"


async def test_the_dpo_reads_every_organisations_entries_of_a_notebook(client, db, partner):
    from sqlmodel import select

    from gateway.storage.tables import JournalEntry

    dpo = await operator(client, db, dpo=True)
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    caf = await partner("caf_msa")
    await client.get(f"/v1/carnets/{carnet_id}", headers=caf.headers)
    whole = await client.get(f"/v1/carnets/{carnet_id}/journal", headers=dpo.headers)
    assert whole.status_code == 200, whole.text
    assert {e["organisation_id"] for e in whole.json()["elements"]} == {
        departement.organisation_id,
        caf.organisation_id,
    }
    by_admin = await client.get("/v1/journal", params={"carnet": carnet_id}, headers=dpo.headers)
    assert by_admin.status_code == 200
    with db.read() as session:
        reads = session.exec(select(JournalEntry).where(JournalEntry.resultat == "servi_dpo")).all()
    assert [(r.client_id, r.carnet_id) for r in reads] == [(dpo.client_id, carnet_id)]


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
    # Not a cursor the API hands out, and the well-formed cursor of a number out of range.
    for huge in (str(2**70), encode(None, str(2**70))):
        for response in (
            await client.get(
                f"/v1/carnets/{carnet_id}/journal", params={"apres": huge}, headers=p.headers
            ),
            await client.get(
                "/v1/journal", params={"carnet": carnet_id, "apres": huge}, headers=admin.headers
            ),
        ):
            assert response.status_code == 400, response.text
            assert response.json()["errors"][0]["code"] == "curseur_invalide"


#: The actor kinds whose organisations national operators administer (the matrix's data).
NATIONAL_KINDS = ("france_travail", "caf_msa", "administration")


async def token_of(client, client_id, secret):
    return await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


async def test_a_territorial_operator_registers_no_national_actor(client, db):
    admin = await operator(client, db)
    for kind in NATIONAL_KINDS:
        refused = await client.post(
            "/v1/admin/organisations",
            json={"nom": "Agence", "type_acteur": kind, "territoires": ["26"]},
            headers=admin.headers,
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "type_acteur_national"
        assert refused.headers["content-type"] == "application/problem+json"
    with db.read() as session:
        kinds = {o.type_acteur for o in session.exec(select(Organisation))}
    assert kinds == {"departement"}


async def test_a_territorial_operator_never_takes_a_national_actors_credentials(
    client, db, partner
):
    admin = await operator(client, db)
    france_travail = await partner("france_travail", ["26"])
    caf = await partner("caf_msa", ["26"])
    for response in (
        await client.post(
            f"/v1/admin/clients/{france_travail.client_id}/secret", headers=admin.headers
        ),
        await client.post(
            f"/v1/admin/clients/{france_travail.client_id}/desactivation", headers=admin.headers
        ),
        await client.post(
            f"/v1/admin/organisations/{caf.organisation_id}/desactivation", headers=admin.headers
        ),
        await client.post(
            f"/v1/admin/organisations/{france_travail.organisation_id}/clients",
            json={"nom": "SI"},
            headers=admin.headers,
        ),
        await client.get(
            "/v1/journal",
            params={"organisation": france_travail.organisation_id},
            headers=admin.headers,
        ),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "type_acteur_national"
        assert "client_secret" not in response.text
    # Nothing changed: the national actors' secrets still work, and no client was added.
    for p in (france_travail, caf):
        assert (await token_of(client, p.client_id, p.secret)).status_code == 200
    with db.read() as session:
        clients = session.exec(
            select(Client).where(Client.organisation_id == france_travail.organisation_id)
        ).all()
    assert [c.client_id for c in clients] == [france_travail.client_id]


async def test_a_national_organisation_elsewhere_does_not_exist_for_a_territorial_operator(
    client, db, partner
):
    """As any organisation of another territory: 404, the same answer as an unknown id."""
    admin = await operator(client, db)
    elsewhere = await partner("france_travail", ["07"])
    for response in (
        await client.post(f"/v1/admin/clients/{elsewhere.client_id}/secret", headers=admin.headers),
        await client.post(
            f"/v1/admin/organisations/{elsewhere.organisation_id}/desactivation",
            headers=admin.headers,
        ),
        await client.post("/v1/admin/clients/cli_inconnu/secret", headers=admin.headers),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "introuvable"
    listed = (await client.get("/v1/admin/organisations", headers=admin.headers)).json()["elements"]
    assert elsewhere.organisation_id not in [o["id"] for o in listed]


async def test_a_national_operator_administers_national_actors_in_every_territory(
    client, db, partner
):
    national = await operator(client, db, ("75",), type_acteur="administration", national=True)
    created = await client.post(
        "/v1/admin/organisations",
        json={
            "nom": "France Travail Ardèche",
            "type_acteur": "france_travail",
            "territoires": ["07"],
        },
        headers=national.headers,
    )
    assert created.status_code == 201, created.text
    agence = created.json()["id"]
    new_client = await client.post(
        f"/v1/admin/organisations/{agence}/clients", json={"nom": "SI"}, headers=national.headers
    )
    assert new_client.status_code == 201, new_client.text
    first = new_client.json()
    rotated = await client.post(
        f"/v1/admin/clients/{first['client_id']}/secret", headers=national.headers
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["client_secret"]
    assert (await token_of(client, first["client_id"], second)).status_code == 200
    assert (await token_of(client, first["client_id"], first["client_secret"])).status_code == 401
    caf = await partner("caf_msa", ["26"])
    structure = await partner("structure_insertion", ["75"])
    listed = [
        o["id"]
        for o in (await client.get("/v1/admin/organisations", headers=national.headers)).json()[
            "elements"
        ]
    ]
    assert agence in listed
    assert caf.organisation_id in listed
    assert structure.organisation_id not in listed
    assert (
        await client.post(
            f"/v1/admin/clients/{caf.client_id}/desactivation", headers=national.headers
        )
    ).status_code == 204
    assert (await client.get("/v1/carnets", headers=caf.headers)).status_code == 401
    # The territories' actors remain their département operator's.
    for response in (
        await client.post(
            f"/v1/admin/clients/{structure.client_id}/secret", headers=national.headers
        ),
        await client.post(
            f"/v1/admin/organisations/{structure.organisation_id}/desactivation",
            headers=national.headers,
        ),
    ):
        assert response.status_code == 404, response.text
    refused = await client.post(
        "/v1/admin/organisations",
        json={"nom": "Mission locale", "type_acteur": "mission_locale", "territoires": ["75"]},
        headers=national.headers,
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "operateur_non_habilite"


async def test_a_territorial_operator_never_takes_a_national_operators_client(client, db):
    admin = await operator(client, db)
    with db.write() as session:
        national = create_client(
            session,
            organisation_id=admin.organisation_id,
            nom="opérateur national",
            operateur=True,
            national=True,
        )
    for response in (
        await client.post(
            f"/v1/admin/clients/{national.client.client_id}/secret", headers=admin.headers
        ),
        await client.post(
            f"/v1/admin/clients/{national.client.client_id}/desactivation", headers=admin.headers
        ),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "operateur_national"
    assert (await token_of(client, national.client.client_id, national.secret)).status_code == 200


async def test_an_operator_disables_neither_its_client_nor_its_organisation(client, db):
    territorial = await operator(client, db)
    national = await operator(client, db, ("75",), type_acteur="administration", national=True)
    for admin in (territorial, national):
        for response in (
            await client.post(
                f"/v1/admin/clients/{admin.client_id}/desactivation", headers=admin.headers
            ),
            await client.post(
                f"/v1/admin/organisations/{admin.organisation_id}/desactivation",
                headers=admin.headers,
            ),
        ):
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "auto_desactivation"
        assert (
            await client.get("/v1/admin/organisations", headers=admin.headers)
        ).status_code == 200
    # Another operator client of its organisation, it may (a lost or compromised one).
    with db.write() as session:
        other = create_client(
            session, organisation_id=territorial.organisation_id, nom="autre", operateur=True
        )
    assert (
        await client.post(
            f"/v1/admin/clients/{other.client.client_id}/desactivation",
            headers=territorial.headers,
        )
    ).status_code == 204
