import json

import jsonschema
import pytest

import referential
from gateway.openapi import SCHEMAS_DIR


async def test_health_answers_ok(public_client):
    response = await public_client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["statut"] == "ok"


async def test_index_lists_every_list_with_its_size_and_link(public_client):
    body = (await public_client.get("/v1/referentiel")).json()
    assert body["version"] == "2026.1"
    sizes = {liste["nom"]: liste["nombre"] for liste in body["listes"]}
    assert sizes["themes"] == 16
    assert sizes["situations"] == 88
    assert sizes["objectifs"] == 58
    assert sizes["actions"] == 134
    assert all(liste["lien"] == f"/v1/referentiel/{liste['nom']}" for liste in body["listes"])
    assert body["liens"]["schemas"] == "/v1/schemas"


async def test_list_filtered_by_theme_keeps_only_that_theme(public_client):
    body = (await public_client.get("/v1/referentiel/situations", params={"theme": "sante"})).json()
    assert len(body["entrees"]) == 8
    assert {e["theme"] for e in body["entrees"]} == {"sante"}
    assert {e["categorie"] for e in body["entrees"]} == {"sante_handicap"}


async def test_list_entries_carry_code_label_category_and_validity(public_client):
    body = (await public_client.get("/v1/referentiel/etats_droit_rsa")).json()
    entry = next(e for e in body["entrees"] if e["code"] == "rsa_droit_ouvert_versable")
    assert entry["libelle"] == "Droit ouvert et versable"
    assert entry["code_caf"] == "2"
    assert entry["categorie"] == "droits"
    assert entry["introduit_en"] == "2026.1"
    assert entry["deprecie"] is False


async def test_unknown_list_is_a_404_problem(public_client):
    response = await public_client.get("/v1/referentiel/inconnue")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "introuvable"


async def test_bad_query_parameter_is_a_located_400_problem(public_client):
    response = await public_client.get(
        "/v1/referentiel/situations", params={"inclure_deprecies": "peut-etre"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "inclure_deprecies"


async def test_code_lookup_returns_the_entry(public_client):
    body = (await public_client.get("/v1/referentiel/codes/logement.heberge_chez_tiers")).json()
    assert body["libelle"] == "Hébergé chez un tiers"
    assert body["theme"] == "logement"


async def test_unknown_code_lookup_suggests_the_closest_code(public_client):
    response = await public_client.get("/v1/referentiel/codes/logement.heberge_chez_un_tiers")
    assert response.status_code == 404
    assert response.json()["suggestions"] == ["logement.heberge_chez_tiers"]


async def test_crosswalk_table_is_served_per_api_version(public_client):
    response = await public_client.get("/v1/referentiel/correspondances/france_travail/objectifs")
    tables = response.json()
    assert [t["versions_api"] for t in tables] == [["diagnostic_v1"], ["diagnostic_v4"]]
    v1 = {row["code_partenaire"]: row.get("code") for row in tables[0]["lignes"]}
    assert v1["25"] == "mobilite.faire_point_complet_mobilite"


async def test_schema_index_lists_every_kind_with_its_id(public_client):
    body = (await public_client.get("/v1/schemas")).json()
    (version,) = body["versions"]
    kinds = {s["type"]: s for s in version["schemas"]}
    assert set(kinds) == set(referential.PAYLOAD_KINDS)
    assert kinds["carnet"]["$id"] == "urn:carnet-de-bord:schemas:2026.1:carnet"


@pytest.mark.parametrize("kind", sorted(referential.PAYLOAD_KINDS))
async def test_each_served_schema_is_a_valid_2020_12_schema(public_client, kind):
    response = await public_client.get(f"/v1/schemas/2026.1/{kind}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json"
    jsonschema.Draft202012Validator.check_schema(response.json())


async def test_the_outgoing_schemas_are_listed_and_served_as_committed(public_client):
    body = (await public_client.get("/v1/schemas")).json()
    assert body["sortants"]["version"] == "sortants-1"
    listed = {s["type"]: s for s in body["sortants"]["schemas"]}
    assert {"changement", "changements", "webhook", "departement_si_evenement"} <= set(listed)
    for kind, entry in listed.items():
        assert entry["$id"] == f"urn:carnet-de-bord:schemas:sortants-1:{kind}"
        response = await public_client.get(entry["lien"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/schema+json"
        committed = SCHEMAS_DIR / "sortants-1" / f"{kind}.json"
        assert response.json() == json.loads(committed.read_text(encoding="utf-8"))
    missing = await public_client.get("/v1/schemas/sortants-1/inconnu")
    assert missing.status_code == 404


async def test_unknown_schema_version_is_a_404_problem(public_client):
    response = await public_client.get("/v1/schemas/1999.1/carnet")
    assert response.status_code == 404


async def test_openapi_document_and_docs_page_are_served(public_client):
    assert (await public_client.get("/openapi.json")).json()["openapi"].startswith("3.1")
    assert (await public_client.get("/docs")).status_code == 200
