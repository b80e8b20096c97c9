"""Search: by NIR and birth date, partner identifier, territory, modification date; paging."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.gateway.payloads import NIR_A, NIR_A13, NIR_B, body, carnet, personne

CAF = {"caf_msa": {"organisme": "caf", "numero_organisme": "999", "matricule": "1234567"}}
FRANCE_TRAVAIL = {"france_travail": {"identifiant": "XYZ"}}
SI_DEPARTEMENT = {"si_departement": {"departement": "26", "identifiant": "SI-1"}}


async def create(client, p, document):
    response = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert response.status_code == 201, response.text
    return response.json()


IDENTIFYING = ("nir", "date_naissance", "identifiant")


async def search(client, p, **params):
    """A listing, or with identifying criteria a search whose criteria travel in the body."""
    criteria = {k: params.pop(k) for k in IDENTIFYING if k in params}
    if criteria:
        response = await client.post(
            "/v1/carnets/recherche", json=criteria, params=params, headers=p.headers
        )
    else:
        response = await client.get("/v1/carnets", params=params, headers=p.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def found_ids(client, p, **params):
    return [item["id"] for item in (await search(client, p, **params))["elements"]]


async def numbered(client, p, count, prefix="Personne", **document):
    """``count`` new notebooks (other names each), their ids in creation order."""
    return [
        (await create(client, p, carnet(personne(nom=f"{prefix}{n:03d}"), **document)))["id"]
        for n in range(count)
    ]


async def all_pages(client, p, size, between_pages=None, **params):
    """Ids of every page, following ``suivant`` until it is null."""
    pages = []
    cursor = None
    while True:
        query = dict(params, limite=size) | ({"apres": cursor} if cursor else {})
        page = await search(client, p, **query)
        pages.append([item["id"] for item in page["elements"]])
        cursor = page["suivant"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "paging does not end"
        if between_pages is not None:
            await between_pages(len(pages))


def event(number):
    return {
        "id": f"evt-{number}",
        "type": "autre",
        "date": "2026-01-05T10:00:00Z",
        "libelle": "Entretien",
    }


def flatten(pages):
    return [carnet_id for page in pages for carnet_id in page]


# -- NIR and birth date -----------------------------------------------------------------------


@pytest.mark.parametrize("nir", [NIR_A, NIR_A13])
async def test_nir_and_birth_date_find_the_notebook(client, partner, nir):
    p = await partner()
    target = await create(client, p, carnet(personne(nir=NIR_A)))
    await create(client, p, carnet(personne(nom="Autre", nir=NIR_B)))
    assert await found_ids(client, p, nir=nir, date_naissance="1990-04-15") == [target["id"]]


async def test_nir_with_another_birth_date_finds_nothing(client, partner):
    p = await partner()
    await create(client, p, carnet(personne(nir=NIR_A)))
    assert await found_ids(client, p, nir=NIR_A, date_naissance="1990-04-16") == []


async def test_nir_alone_is_400_naming_the_missing_birth_date(client, partner):
    p = await partner()
    response = await client.post("/v1/carnets/recherche", json={"nir": NIR_A}, headers=p.headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["pointer"] == "/date_naissance"
    assert error["code"] == "date_naissance_requise"


@pytest.mark.parametrize(
    "nir",
    [
        "290049999900162",  # wrong key
        "29004999990",  # too short
        "2900499999001610",  # too long
        "X90049999900161",  # not a number
    ],
)
async def test_invalid_nir_is_400_naming_the_nir(client, partner, nir):
    p = await partner()
    response = await client.post(
        "/v1/carnets/recherche",
        json={"nir": nir, "date_naissance": "1990-04-15"},
        headers=p.headers,
    )
    assert response.status_code == 400
    assert [e["pointer"] for e in response.json()["errors"]] == ["/nir"]


# -- partner identifiers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifiants", "identifiant"),
    [
        (FRANCE_TRAVAIL, "france_travail:XYZ"),
        (CAF, "caf_msa:caf:999:1234567"),
        (SI_DEPARTEMENT, "si_departement:26:SI-1"),
    ],
)
async def test_partner_identifier_finds_the_notebook(client, partner, identifiants, identifiant):
    p = await partner()
    await create(client, p, carnet(personne(nom="Autre")))
    target = await create(client, p, carnet(personne(identifiants=identifiants)))
    assert await found_ids(client, p, identifiant=identifiant) == [target["id"]]


@pytest.mark.parametrize(
    "identifiant",
    [
        "caf_msa:caf:998:1234567",  # another organism, same matricule
        "si_departement:07:SI-1",  # another département, same IS identifier
        "france_travail:XY",
    ],
)
async def test_partner_identifier_of_nobody_finds_nothing(client, partner, identifiant):
    p = await partner()
    await create(client, p, carnet(personne(identifiants=CAF | FRANCE_TRAVAIL | SI_DEPARTEMENT)))
    assert await found_ids(client, p, identifiant=identifiant) == []


@pytest.mark.parametrize("identifiant", ["XYZ", "france_travail:", "inconnu:XYZ", ":XYZ", ""])
async def test_malformed_partner_identifier_is_400(client, partner, identifiant):
    p = await partner()
    response = await client.post(
        "/v1/carnets/recherche", json={"identifiant": identifiant}, headers=p.headers
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["/identifiant"]


@pytest.mark.parametrize("name", ["nir", "identifiant", "date_naissance"])
async def test_identifying_criteria_never_travel_in_the_url(client, partner, name):
    p = await partner()
    response = await client.get("/v1/carnets", params={name: "x"}, headers=p.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "parameter": name,
        "code": "critere_dans_l_url",
        "message": "Critère à envoyer dans le corps.",
    }


# -- territory and modification date ----------------------------------------------------------


async def test_territoire_keeps_the_notebooks_of_that_territory(client, partner):
    p = await partner(territoires=["26", "07"])
    drome = await create(client, p, carnet(territoire="26"))
    ardeche = await create(client, p, carnet(territoire="07"))
    assert await found_ids(client, p, territoire="07") == [ardeche["id"]]
    assert await found_ids(client, p, territoire="26") == [drome["id"]]
    assert await found_ids(client, p) == [drome["id"], ardeche["id"]]


async def test_modifie_depuis_keeps_notebooks_modified_at_or_after_it(client, partner):
    p = await partner()
    first = await create(client, p, carnet(personne(nom="Premier")))
    second = await create(client, p, carnet(personne(nom="Second")))
    since = second["carnet"]["modifie_le"]
    assert await found_ids(client, p, modifie_depuis=since) == [second["id"]]
    contribution = await client.post(
        f"/v1/carnets/{first['id']}/contributions",
        content=body({"droits": {"are": True}}),
        headers=p.headers,
    )
    assert contribution.status_code == 200
    assert await found_ids(client, p, modifie_depuis=since) == [first["id"], second["id"]]


async def test_modifie_depuis_with_an_offset_compares_instants(client, partner):
    p = await partner()
    created = await create(client, p, carnet())
    modified = datetime.fromisoformat(created["carnet"]["modifie_le"])
    # The same instant written at UTC+01:00, then a microsecond later.
    same = modified.astimezone(timezone(timedelta(hours=1)))
    assert await found_ids(client, p, modifie_depuis=same.isoformat()) == [created["id"]]
    later = same + timedelta(microseconds=1)
    assert await found_ids(client, p, modifie_depuis=later.isoformat()) == []


@pytest.mark.parametrize("since", ["2026-01-01T00:00:00", "2026-01-01"])
async def test_modifie_depuis_without_an_offset_is_never_a_server_error(client, partner, since):
    p = await partner()
    try:
        response = await client.get(
            "/v1/carnets", params={"modifie_depuis": since}, headers=p.headers
        )
    except Exception as error:  # the test transport re-raises what the app did not handle
        pytest.fail(f"unhandled {type(error).__name__}: {error}")
    assert response.status_code in (200, 400), response.text


# -- territories of the caller ----------------------------------------------------------------


async def stranger_notebook(client, partner):
    """A notebook of the Ardèche (07), with a NIR and a partner identifier; its id."""
    owner = await partner(territoires=["07"])
    document = carnet(personne(nir=NIR_A, identifiants=FRANCE_TRAVAIL))
    return (await create(client, owner, document))["id"]


async def test_notebook_of_another_territory_is_not_listed(client, partner):
    await stranger_notebook(client, partner)
    caller = await partner(territoires=["26"])
    mine = await create(client, caller, carnet(personne(nom="Drôme")))
    assert await found_ids(client, caller) == [mine["id"]]


async def test_notebook_of_another_territory_is_not_found_by_nir(client, partner):
    await stranger_notebook(client, partner)
    caller = await partner(territoires=["26"])
    assert await found_ids(client, caller, nir=NIR_A, date_naissance="1990-04-15") == []


async def test_notebook_of_another_territory_is_not_found_by_identifier(client, partner):
    await stranger_notebook(client, partner)
    caller = await partner(territoires=["26"])
    assert await found_ids(client, caller, identifiant="france_travail:XYZ") == []


async def test_naming_another_territory_finds_nothing_of_it(client, partner):
    await stranger_notebook(client, partner)
    caller = await partner(territoires=["26"])
    assert await found_ids(client, caller, territoire="07") == []


# -- cursor paging ----------------------------------------------------------------------------


async def test_pages_follow_next_page_until_null_listing_each_notebook_once(client, partner):
    p = await partner()
    ids = await numbered(client, p, 25)
    pages = await all_pages(client, p, size=10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert flatten(pages) == ids


async def test_pages_of_a_filtered_search_list_only_matching_notebooks(client, partner):
    p = await partner(territoires=["26", "07"])
    drome = await numbered(client, p, 12, prefix="Drome", territoire="26")
    await numbered(client, p, 3, prefix="Ardeche", territoire="07")
    pages = await all_pages(client, p, size=5, territoire="26")
    assert flatten(pages) == drome


async def test_paging_is_stable_under_concurrent_inserts(client, partner):
    p = await partner()
    before = await numbered(client, p, 25)
    inserted = []

    async def insert(page_number):
        inserted.extend(await numbered(client, p, 4, prefix=f"Nouveau{page_number}x"))

    listed = flatten(await all_pages(client, p, size=10, between_pages=insert))
    assert [i for i in listed if i in before] == before
    assert listed[: len(before)] == before
    assert len(listed) == len(set(listed))
    assert set(listed[len(before) :]) <= set(inserted)


async def test_paging_lists_a_notebook_modified_meanwhile_once(client, partner):
    p = await partner()
    before = await numbered(client, p, 25)

    async def modify_first_listed(page_number):
        response = await client.post(
            f"/v1/carnets/{before[0]}/contributions",
            content=body({"evenements": [event(page_number)]}),
            headers=p.headers,
        )
        assert response.status_code == 200

    listed = flatten(await all_pages(client, p, size=10, between_pages=modify_first_listed))
    assert listed == before


async def test_page_size_over_the_maximum_is_400(client, partner):
    p = await partner()
    response = await client.get("/v1/carnets", params={"limite": 101}, headers=p.headers)
    assert response.status_code == 400
    assert [e["parameter"] for e in response.json()["errors"]] == ["limite"]


async def test_forged_cursor_is_400(client, partner):
    p = await partner()
    await numbered(client, p, 3)
    response = await client.get(
        "/v1/carnets", params={"limite": 2, "apres": "garbage"}, headers=p.headers
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("content", "pointer", "code"),
    [
        (b"{pas du json", "", "json_invalide"),
        (b'{"nir": 12}', "/nir", "string_type"),
        (b'{"inconnu": 1}', "/inconnu", "extra_forbidden"),
        (b'{"date_naissance": "hier"}', "/date_naissance", "date_from_datetime_parsing"),
    ],
)
async def test_a_malformed_search_body_is_422_located(client, partner, content, pointer, code):
    p = await partner()
    response = await client.post("/v1/carnets/recherche", content=content, headers=p.headers)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["pointer"], error["code"]) == (pointer, code)


async def test_a_search_body_needs_no_content_type(client, partner):
    p = await partner()
    target = await create(client, p, carnet(personne(nir=NIR_A)))
    response = await client.post(
        "/v1/carnets/recherche",
        content=b'{"nir": "%s", "date_naissance": "1990-04-15"}' % NIR_A.encode(),
        headers=p.headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert [item["id"] for item in response.json()["elements"]] == [target["id"]]


async def test_a_malformed_search_cursor_is_a_located_400(client, partner):
    p = await partner()
    response = await client.post(
        "/v1/carnets/recherche", json={}, params={"apres": "HEAD"}, headers=p.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["parameter"] == "apres"
