"""Create-or-find: identity resolution, rule by rule."""

import pytest
from sqlmodel import select

from gateway.notebooks.identity import name_key
from gateway.storage.tables import IdentityConflict
from tests.gateway.payloads import (
    NIR_A,
    NIR_A13,
    NIR_B,
    REFUSED_BIRTH_DATE_IDS,
    REFUSED_BIRTH_DATES,
    body,
    carnet,
    contribute,
    new_notebook,
    personne,
    view,
)


async def create(client, p, document, **headers):
    return await client.post("/v1/carnets", content=body(document), headers=p.headers | headers)


async def test_new_person_creates_a_notebook(client, partner):
    p = await partner()
    response = await create(client, p, carnet())
    assert response.status_code == 201
    data = response.json()
    assert data["cree"] is True
    assert data["version"] == 1
    assert response.headers["location"] == f"/v1/carnets/{data['id']}"
    assert response.headers["etag"] == '"v1"'
    assert data["carnet"]["personne"]["nom"] == "Exemple"
    assert data["carnet"]["territoire"] == "26"


async def test_same_nir_finds_the_notebook_even_with_other_names(client, partner):
    p = await partner()
    first = await create(client, p, carnet(personne(nir=NIR_A)))
    again = await create(client, p, carnet(personne(nir=NIR_A13, nom="Autre", prenom="Nom")))
    assert again.status_code == 200
    assert again.json()["cree"] is False
    assert again.json()["id"] == first.json()["id"]


async def test_nir_with_another_birth_date_is_a_recorded_conflict(client, partner, db):
    p = await partner()
    first = await create(client, p, carnet(personne(nir=NIR_A)))
    response = await create(client, p, carnet(personne(nir=NIR_A, date_naissance="1990-04-16")))
    assert response.status_code == 409
    problem = response.json()
    # The answer of every failed identification (no oracle); operators get the detail.
    assert problem["code"] == "identification_impossible"
    assert "errors" not in problem
    assert NIR_A13 not in response.text
    assert "1990" not in response.text
    with db.read() as session:
        (conflict,) = session.exec(select(IdentityConflict)).all()
    assert conflict.carnet_id == first.json()["id"]
    assert conflict.raison == "nir_date_naissance"


async def test_partner_identifier_finds_the_notebook(client, partner):
    p = await partner()
    ids = {"france_travail": {"identifiant": "FT-0001"}}
    first = await create(client, p, carnet(personne(identifiants=ids)))
    again = await create(client, p, carnet(personne(nom="Autrement", identifiants=ids)))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


async def test_caf_matricule_is_an_identifier_with_its_organism(client, partner):
    p = await partner()
    caf = {"caf_msa": {"organisme": "caf", "numero_organisme": "999", "matricule": "1234567"}}
    other_caf = {"caf_msa": {"organisme": "caf", "numero_organisme": "998", "matricule": "1234567"}}
    first = await create(client, p, carnet(personne(nom="Un", identifiants=caf)))
    second = await create(client, p, carnet(personne(nom="Deux", identifiants=other_caf)))
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


async def test_identifier_pointing_to_a_notebook_with_another_nir_is_a_conflict(client, partner):
    p = await partner()
    ids = {"france_travail": {"identifiant": "FT-0002"}}
    await create(client, p, carnet(personne(nir=NIR_A, identifiants=ids)))
    response = await create(client, p, carnet(personne(nir=NIR_B, identifiants=ids)))
    assert response.status_code == 409
    assert response.json()["code"] == "identification_impossible"


async def test_nir_and_identifier_designating_two_notebooks_is_ambiguous(client, partner):
    p = await partner()
    ids = {"france_travail": {"identifiant": "FT-0003"}}
    await create(client, p, carnet(personne(nom="Un", nir=NIR_A)))
    await create(client, p, carnet(personne(nom="Deux", identifiants=ids)))
    response = await create(client, p, carnet(personne(nom="Trois", nir=NIR_A, identifiants=ids)))
    assert response.status_code == 409
    assert response.json()["code"] == "identification_impossible"


async def test_same_names_and_birth_date_find_the_notebook_in_the_territory(client, partner):
    p = await partner()
    first = await create(client, p, carnet(personne(nom="Lefèvre-d'Aubigné", prenom="Élise")))
    again = await create(client, p, carnet(personne(nom="LEFEVRE D AUBIGNE", prenom="elise")))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


#: The ways a name's parts may be separated: apostrophes and their typographic look-alikes,
#: hyphens and dashes, ordinary, non-breaking and other Unicode spaces.
SEPARATORS = [
    "'", "\u2018", "\u2019", "\u02bc", "\u2032", "\u00b4", "`",
    "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
    " ", "\u00a0", "\u202f", "\u2009", "\u3000", " \u2019 ", "--",
]  # fmt: skip


@pytest.mark.parametrize("separator", SEPARATORS)
def test_every_separator_of_a_name_gives_the_same_key(separator):
    assert name_key(f"N{separator}Diaye") == "n diaye"
    assert name_key(f"Lef\u00e8vre{separator}d{separator}Aubign\u00e9") == "lefevre d aubigne"


@pytest.mark.parametrize(
    ("ligature", "spelt"),
    [("L\u0153uillet", "Loeuillet"), ("\u0152uvre", "OEUVRE"), ("\u00c6bi", "Aebi")],
)
def test_a_ligature_gives_the_key_of_its_spelling(ligature, spelt):
    assert name_key(ligature) == name_key(spelt) == spelt.lower()


def test_names_differing_by_more_than_separators_keep_distinct_keys():
    assert name_key("NDiaye") == "ndiaye" != name_key("N\u2019Diaye")
    assert name_key(" \u00c9lise\u00a0") == "elise"


async def test_typographic_apostrophe_finds_the_notebook_of_the_straight_one(client, partner):
    p = await partner()
    first = await create(client, p, carnet(personne(nom="N\u2019Diaye", prenom="Awa")))
    assert first.status_code == 201, first.text
    again = await create(client, p, carnet(personne(nom="N'Diaye", prenom="Awa")))
    assert again.status_code == 200, again.text
    assert again.json()["cree"] is False
    assert again.json()["id"] == first.json()["id"]


async def test_same_names_in_another_territory_is_another_person(client, partner):
    p = await partner(territoires=["26", "07"])
    first = await create(client, p, carnet(territoire="26"))
    other = await create(client, p, carnet(territoire="07"))
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


async def test_homonym_with_another_nir_is_never_merged(client, partner):
    p = await partner()
    first = await create(client, p, carnet(personne(nir=NIR_A)))
    other = await create(client, p, carnet(personne(nir=NIR_B)))
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


async def test_two_homonyms_make_a_third_request_ambiguous(client, partner):
    p = await partner()
    await create(client, p, carnet(personne(nir=NIR_A)))
    await create(client, p, carnet(personne(nir=NIR_B)))
    response = await create(client, p, carnet())
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "identification_impossible"
    assert "errors" not in problem
    assert NIR_A13 not in response.text


async def test_person_of_another_territory_is_not_revealed(client, partner):
    """Known in 07, unknown in 26: the département of 26 creates its own notebook, as for
    anyone it never met (nothing says the person is known elsewhere)."""
    owner = await partner(territoires=["07"])
    theirs = (await create(client, owner, carnet(personne(nir=NIR_A)))).json()["id"]
    stranger = await partner(territoires=["26"])
    response = await create(client, stranger, carnet(personne(nir=NIR_A)))
    assert response.status_code == 201, response.text
    assert response.json()["id"] != theirs
    assert response.json()["carnet"]["territoire"] == "26"


async def test_territory_outside_the_organisation_is_403(client, partner):
    p = await partner(territoires=["26"])
    response = await create(client, p, carnet(territoire="07"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["pointer"] == "/territoire"


async def test_organisation_with_several_territories_must_name_one(client, partner):
    p = await partner(territoires=["26", "07"])
    response = await create(client, p, carnet())
    assert response.status_code == 422
    assert response.json()["code"] == "territoire_requis"


async def test_invalid_payload_is_422_with_every_error_and_nothing_stored(client, partner):
    p = await partner()
    document = carnet(personne(nir="290049999900162", date_naissance="1990-02-30"))
    document["diagnostic"] = {"situations": [{"code": "logement.inconnu"}]}
    response = await create(client, p, document)
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {
        "/personne/nir",
        "/personne/date_naissance",
        "/diagnostic/situations/0/code",
    }
    listing = await client.get("/v1/carnets", headers=p.headers)
    assert listing.json()["elements"] == []


@pytest.mark.parametrize(("fields", "code"), REFUSED_BIRTH_DATES, ids=REFUSED_BIRTH_DATE_IDS)
async def test_a_refused_birth_date_is_422_located_and_nothing_is_created(
    client, partner, fields, code
):
    p = await partner()
    response = await create(client, p, carnet(personne(**fields)))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [(e["pointer"], e["code"]) for e in problem["errors"]] == [
        ("/personne/date_naissance", code)
    ]
    assert fields["date_naissance"] not in response.text
    listing = await client.get("/v1/carnets", headers=p.headers)
    assert listing.json()["elements"] == []


@pytest.mark.parametrize(("fields", "code"), REFUSED_BIRTH_DATES, ids=REFUSED_BIRTH_DATE_IDS)
async def test_a_contribution_with_a_refused_birth_date_is_422_and_changes_nothing(
    client, partner, fields, code
):
    p = await partner()
    carnet_id = await new_notebook(client, p, carnet(personne(nir=NIR_A)))
    before = await view(client, p, carnet_id)
    document = {"personne": personne(nir=NIR_A) | fields, "droits": {"are": True}}
    response = await contribute(client, p, carnet_id, document)
    assert response.status_code == 422, response.text
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/personne/date_naissance", code)
    ]
    assert await view(client, p, carnet_id) == before


async def test_a_partner_identifier_with_another_birth_date_is_a_conflict(client, partner):
    departement = await partner()
    ids = {"france_travail": {"identifiant": "FT-9999"}}
    first = await create(client, departement, carnet(personne(identifiants=ids)))
    france_travail = await partner("france_travail")
    intruder = carnet(
        personne(nom="Intrus", prenom="Zorro", date_naissance="1970-01-01", identifiants=ids)
    )
    response = await create(client, france_travail, intruder)
    assert response.status_code == 409
    assert response.json()["code"] == "identification_impossible"
    view = (
        await client.get(f"/v1/carnets/{first.json()['id']}", headers=departement.headers)
    ).json()
    assert view["personne"]["nom"] == "Exemple"


async def test_a_nir_of_another_territory_is_unknown_whatever_the_birth_date(client, partner):
    drome = await partner(territoires=["26"])
    await create(client, drome, carnet(personne(nir=NIR_A)))
    ardeche = await partner(territoires=["07"])
    answers = [
        await create(client, ardeche, carnet(personne(nir=NIR_A, date_naissance=day)))
        for day in ("1990-04-15", "1990-04-01")
    ]
    # Unknown in 07 whatever the birth date: the first creates 07's notebook, the second
    # (same NIR, another birth date) contradicts it.
    assert [a.status_code for a in answers] == [201, 409]
    assert answers[1].json()["code"] == "identification_impossible"


async def test_identifying_a_person_without_recording_gives_no_access(client, partner):
    departement = await partner()
    carnet_id = (await create(client, departement, carnet())).json()["id"]
    ccas = await partner("ccas_cias")
    found = await create(client, ccas, carnet())
    assert found.status_code == 200
    assert found.json()["acces"] == "decouverte"
    assert "carnet" not in found.json()
    response = await client.get(f"/v1/carnets/{carnet_id}", headers=ccas.headers)
    assert response.status_code == 404


async def test_names_and_nir_a_contribution_records_find_the_notebook_from_then_on(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    renamed = {"personne": personne(nom="Renommée", prenom="Aude", nir=NIR_B)}
    response = await contribute(client, p, carnet_id, renamed)
    assert response.status_code == 200, response.text
    assert "/personne/nom" in response.json()["resultat"]["appliques"]
    by_names = await create(client, p, carnet(personne(nom="RENOMMEE", prenom="aude")))
    by_nir = await create(client, p, carnet(personne(nom="Tout", prenom="Autre", nir=NIR_B)))
    for found in (by_names, by_nir):
        assert found.status_code == 200, found.text
        assert found.json()["id"] == carnet_id
    # The former names no longer designate it: a homonym there is another person.
    former = await create(client, p, carnet(personne()))
    assert former.status_code == 201
    assert former.json()["id"] != carnet_id
