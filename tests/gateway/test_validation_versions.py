"""Referential versions through the gateway: a gateway on a made-up 2026.2 accepts 2026.1
payloads, translating their codes, in the validation API and in the write path alike."""

from collections.abc import AsyncIterator

import httpx
import pytest

import referential
from gateway.app import create_app
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import body, carnet
from tests.referential.versions import MERGED, RENAMED, RETIRED, V1, second_version


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return referential.Validator(second_version(tmp_path_factory.mktemp("v2")))


@pytest.fixture
async def client(settings, db, validator) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings, database=db, validator=validator)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
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
