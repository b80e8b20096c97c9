"""Referential versions through the gateway, on a made-up 2026.2: 2026.1 payloads are accepted
and their codes translated, in the validation API and the write path alike; the schemas of both
versions are listed and served."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from typer.testing import CliRunner

import referential
from gateway.app import create_app
from gateway.cli import app as cli
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import body, carnet
from tests.referential.versions import (
    EXPECTED_DIFF,
    MERGED,
    RENAMED,
    RETIRED,
    V1,
    V2,
    second_version,
    write_second_version,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return referential.Validator(second_version(tmp_path_factory.mktemp("v2")))


@asynccontextmanager
async def gateway(settings, database, validator):
    application = create_app(settings, database=database, validator=validator)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            client.departements = {}  # see tests/gateway/conftest.py
            yield client


@pytest.fixture
async def client(settings, db, validator) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(settings, db, validator) as client:
        yield client


@pytest.fixture
async def public(settings, public_database, validator) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(settings, public_database, validator) as client:
        yield client


def older(*codes):
    return carnet(version_referentiel=V1, diagnostic={"situations": [{"code": c} for c in codes]})


async def test_the_write_path_stores_the_translated_codes_and_warns_as_the_api_does(
    client, partner
):
    p = await partner("departement")
    document = older(RENAMED[0], *MERGED[0][:1])
    api = (
        await client.post("/v1/validation/carnet", content=body(document), headers=p.headers)
    ).json()
    assert api["valide"] is True
    assert [w["code"] for w in api["avertissements"]] == ["code_traduit", "code_traduit"]
    write = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert write.status_code == 201, write.text
    assert write.json()["avertissements"] == api["avertissements"]
    stored = (await client.get(f"/v1/carnets/{write.json()['id']}", headers=p.headers)).text
    assert RENAMED[1] in stored
    assert MERGED[1] in stored
    assert RENAMED[0] not in stored
    assert '"version_referentiel":"2026.2"' in stored


async def test_a_retired_code_is_refused_by_the_api_and_the_write_path_alike(client, partner):
    p = await partner("departement")
    document = older(RETIRED)
    api = (
        await client.post("/v1/validation/carnet", content=body(document), headers=p.headers)
    ).json()
    write = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert write.status_code == 422
    assert [e["code"] for e in api["erreurs"]] == ["code_retire"]
    assert write.json()["errors"] == api["erreurs"]


async def test_a_batch_mixes_versions_line_by_line(client, partner):
    p = await partner("editeur_logiciel")
    lines = b"\n".join(
        [body(older(RENAMED[0])), body(older(RETIRED)), body(carnet(version_referentiel="2026.2"))]
    )
    report = (
        await client.post(
            "/v1/validation/carnet",
            content=lines,
            headers={**p.headers, "Content-Type": "application/x-ndjson"},
        )
    ).json()
    assert (report["lignes_valides"], report["lignes_invalides"]) == (2, 1)
    assert [(e["code"], e["lignes"]) for e in report["erreurs"]] == [("code_retire", [[2, 2]])]
    assert [(w["code"], w["lignes"]) for w in report["avertissements"]] == [
        ("code_traduit", [[1, 1]])
    ]


# -- schemas ---------------------------------------------------------------------------------


async def test_the_schema_index_lists_every_version_with_its_status(public):
    index = (await public.get("/v1/schemas")).json()
    assert index["version_courante"] == V2
    statuses = {v["version"]: (v["statut"], v.get("fin_support")) for v in index["versions"]}
    assert statuses == {V1: ("supportee", "2027-12-31"), V2: ("courante", None)}
    for version in index["versions"]:
        kinds = {s["type"]: s for s in version["schemas"]}
        assert set(kinds) == set(referential.PAYLOAD_KINDS)
        carnet_schema = kinds["carnet"]
        assert carnet_schema["$id"] == f"urn:carnet-de-bord:schemas:{version['version']}:carnet"
        assert carnet_schema["lien"] == f"/v1/schemas/{version['version']}/carnet"


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [(V1, RENAMED[0], RENAMED[1]), (V2, RENAMED[1], RETIRED)],
)
async def test_each_supported_version_serves_its_own_codes(public, version, present, absent):
    response = await public.get(f"/v1/schemas/{version}/diagnostic")
    assert response.status_code == 200
    schema = response.json()
    assert schema["$id"] == f"urn:carnet-de-bord:schemas:{version}:diagnostic"
    codes = schema["$defs"]["code_situations"]["enum"]
    assert present in codes
    assert absent not in codes


async def test_the_schemas_of_a_retired_version_are_listed_but_no_longer_served(
    settings, public_database, tmp_path
):
    retired = referential.Validator(second_version(tmp_path, first_status="retiree"))
    async with gateway(settings, public_database, retired) as client:
        index = (await client.get("/v1/schemas")).json()
        first = next(v for v in index["versions"] if v["version"] == V1)
        assert first["statut"] == "retiree"
        assert all("lien" not in s and s["$id"] for s in first["schemas"])
        response = await client.get(f"/v1/schemas/{V1}/carnet")
        assert response.status_code == 410
        assert response.json()["code"] == "schema_retire"
        carnet_schema = (await client.get(f"/v1/schemas/{V2}/carnet")).json()
        version_enum = carnet_schema["properties"]["version_referentiel"]["anyOf"][0]["enum"]
        assert version_enum == [V2]


# -- diff ------------------------------------------------------------------------------------


async def test_the_diff_api_gives_every_change_machine_readable(public):
    response = await public.get("/v1/referentiel/diff", params={"de": V1, "a": V2})
    assert response.status_code == 200
    assert response.json() == EXPECTED_DIFF


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"de": V2, "a": V1}, "versions_dans_le_desordre"),
        ({"de": "2025.1", "a": V2}, "version_referentiel_inconnue"),
        ({"de": V1}, "parametres_invalides"),
    ],
)
async def test_a_bad_diff_request_is_a_located_400(public, params, code):
    response = await public.get("/v1/referentiel/diff", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_the_cli_prints_the_diff_for_humans_and_as_json(tmp_path):
    data = write_second_version(tmp_path / "data")
    result = runner.invoke(cli, ["referential", "diff", V1, V2, "--donnees", str(data)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Référentiel 2026.1 → 2026.2"
    assert "Ajoutés (7) :" in lines
    assert f"  situations             {RENAMED[0]} → {RENAMED[1]}" in lines
    merged = " + ".join(sorted(MERGED[0]))
    assert f"  situations             {merged} → {MERGED[1]}" in lines
    assert f"  situations             {RETIRED} (sans remplacement)" in lines
    result = runner.invoke(cli, ["referential", "diff", V1, V2, "--donnees", str(data), "--json"])
    assert json.loads(result.output) == EXPECTED_DIFF


def test_the_cli_refuses_a_backwards_diff(tmp_path):
    data = write_second_version(tmp_path / "data")
    result = runner.invoke(cli, ["referential", "diff", V2, V1, "--donnees", str(data)])
    assert result.exit_code == 2
    assert "Comparaison impossible" in result.output


def test_the_published_referential_has_no_change_from_itself():
    result = runner.invoke(cli, ["referential", "diff", "2026.1", "2026.1"])
    assert result.exit_code == 0
    assert "Aucun changement de code." in result.output


# -- lists -----------------------------------------------------------------------------------


async def test_a_list_is_served_in_each_version(public):
    current = (await public.get("/v1/referentiel/situations")).json()
    older = (await public.get("/v1/referentiel/situations", params={"version": V1})).json()
    assert (current["version"], older["version"]) == (V2, V1)
    current_codes = {e["code"]: e for e in current["entrees"]}
    older_codes = {e["code"]: e for e in older["entrees"]}
    assert RENAMED[1] in current_codes
    assert RENAMED[1] not in older_codes
    assert RETIRED in older_codes
    assert RETIRED not in current_codes
    assert current_codes[RENAMED[0]]["deprecie"] is True
    assert older_codes[RENAMED[0]]["deprecie"] is False


async def test_a_list_in_an_unknown_version_is_a_located_400(public):
    response = await public.get("/v1/referentiel/situations", params={"version": "2025.1"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "version"
