"""The validate-only API: POST /v1/validation/{kind}, one payload or an NDJSON batch."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.cli import app as cli
from gateway.settings import Settings
from gateway.validation.limiter import TokenBuckets
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import (
    REFUSED_BIRTH_DATE_IDS,
    REFUSED_BIRTH_DATES,
    body,
    carnet,
    personne,
)

NDJSON = {"Content-Type": "application/x-ndjson"}
runner = CliRunner()

TYPO_SITUATION = {"situations": [{"code": "logement.heberge_chez_tier"}]}
OUTSIDE_AXIS = [
    {"theme": "emploi", "objectifs": [{"code": "logement.acceder_logement", "statut": "en_cours"}]}
]


def invalid_carnet():
    """A notebook with several errors of several kinds, one with a suggestion."""
    document = carnet(
        personne(date_naissance="1990-02-30", nir="290049999900162"),
        diagnostic=TYPO_SITUATION,
        coordonnees={"telephones": ["06 12 34"], "fax": "01"},
    )
    return document


def ndjson(*documents) -> bytes:
    return b"".join(
        (d if isinstance(d, bytes) else json.dumps(d).encode()) + b"\n" for d in documents
    )


@pytest.fixture
async def anonymous(public_database) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway open to anonymous validation (3 a minute, batches of 200,000 lines)."""
    settings = Settings(
        environment="test",
        issuer=BASE_URL,
        validation_anonymous_per_minute=3,
        validation_anonymous_max_lines=200_000,
    )
    application = create_app(settings, database=public_database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


# -- one payload -----------------------------------------------------------------------------


async def test_valid_payload_is_valid_without_findings(client, partner):
    p = await partner("editeur_logiciel")
    response = await client.post("/v1/validation/carnet", content=body(carnet()), headers=p.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "type": "carnet",
        "valide": True,
        "version_referentiel": "2026.1",
        "erreurs": [],
        "avertissements": [],
    }


async def test_every_error_comes_with_pointer_code_french_message_and_suggestion(client, partner):
    p = await partner("editeur_logiciel")
    response = await client.post(
        "/v1/validation/carnet", content=body(invalid_carnet()), headers=p.headers
    )
    assert response.status_code == 200
    report = response.json()
    assert report["valide"] is False
    errors = {e["pointer"]: e for e in report["erreurs"]}
    assert sorted(errors) == [
        "/coordonnees/fax",
        "/coordonnees/telephones/0",
        "/diagnostic/situations/0/code",
        "/personne/date_naissance",
        "/personne/nir",
    ]
    code = errors["/diagnostic/situations/0/code"]
    assert code["code"] == "code_inconnu"
    assert code["attendu"] == "/v1/referentiel/situations"
    assert code["suggestion"] == "logement.heberge_chez_tiers"
    assert code["message"] == (
        "Code inconnu dans la liste « situations » du référentiel. "
        "Vouliez-vous dire « logement.heberge_chez_tiers » ?"
    )
    assert errors["/personne/date_naissance"]["attendu"] == "AAAA-MM-JJ"
    assert errors["/personne/nir"]["code"] == "nir_cle_invalide"
    assert errors["/coordonnees/fax"]["code"] == "champ_inconnu"


@pytest.mark.parametrize(("fields", "code"), REFUSED_BIRTH_DATES, ids=REFUSED_BIRTH_DATE_IDS)
@pytest.mark.parametrize("kind", ["carnet", "contribution", "personne"])
async def test_a_refused_birth_date_is_a_located_error_of_every_kind_with_a_person(
    client, partner, kind, fields, code
):
    p = await partner("editeur_logiciel")
    person = personne(**fields)
    document = person if kind == "personne" else {"personne": person}
    response = await client.post(
        f"/v1/validation/{kind}", content=body(document), headers=p.headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["valide"] is False
    pointer = "/date_naissance" if kind == "personne" else "/personne/date_naissance"
    assert [(e["pointer"], e["code"]) for e in report["erreurs"]] == [(pointer, code)]
    assert all(e["message"] for e in report["erreurs"])


async def test_warnings_leave_the_payload_valid(client, partner):
    p = await partner("departement")
    document = carnet(axes=OUTSIDE_AXIS)
    report = (
        await client.post("/v1/validation/carnet", content=body(document), headers=p.headers)
    ).json()
    assert report["valide"] is True
    assert report["erreurs"] == []
    assert [(w["pointer"], w["code"]) for w in report["avertissements"]] == [
        ("/axes/0/objectifs/0/code", "objectif_hors_axe")
    ]


@pytest.mark.parametrize("type_acteur", ["editeur_logiciel", "caf_msa", "france_travail"])
async def test_every_partner_may_validate_and_nothing_is_stored(client, partner, db, type_acteur):
    p = await partner(type_acteur)
    response = await client.post(
        "/v1/validation/carnet",
        content=body(carnet()),
        headers={"Authorization": p.headers["Authorization"]},
    )
    assert response.status_code == 200
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM carnets")).scalar_one() == 0
        assert session.execute(text("SELECT count(*) FROM journal")).scalar_one() == 0


async def test_a_section_kind_is_validated_on_its_own(client, partner):
    p = await partner("editeur_logiciel")
    response = await client.post(
        "/v1/validation/diagnostic", content=body(TYPO_SITUATION), headers=p.headers
    )
    (error,) = response.json()["erreurs"]
    assert error["pointer"] == "/situations/0/code"


async def test_malformed_json_is_a_finding_at_the_root(client, partner):
    p = await partner("editeur_logiciel")
    response = await client.post("/v1/validation/carnet", content=b"{pas", headers=p.headers)
    assert response.status_code == 200
    (error,) = response.json()["erreurs"]
    assert (error["pointer"], error["code"]) == ("", "json_invalide")


async def test_unknown_kind_is_a_404_listing_the_kinds(client, partner):
    p = await partner("editeur_logiciel")
    response = await client.post("/v1/validation/inconnu", content=b"{}", headers=p.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "carnet" in response.json()["types"]


async def test_a_body_of_another_declared_type_is_read_as_one_json_payload(client, partner):
    p = await partner("editeur_logiciel")
    form = {**p.headers, "Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/v1/validation/carnet", content=body(carnet()), headers=form)
    assert response.json()["valide"] is True
    xml = {**p.headers, "Content-Type": "application/xml"}
    response = await client.post("/v1/validation/carnet", content=b"<carnet/>", headers=xml)
    assert [e["code"] for e in response.json()["erreurs"]] == ["json_invalide"]


async def test_oversized_single_payload_is_a_413(client, partner):
    p = await partner("editeur_logiciel")
    document = carnet(evenements=[{"libelle": "x" * 2_000_000}])
    response = await client.post("/v1/validation/carnet", content=body(document), headers=p.headers)
    assert response.status_code == 413
    assert response.json()["code"] == "corps_trop_volumineux"


async def test_invalid_token_is_a_401_not_an_anonymous_call(anonymous):
    response = await anonymous.post(
        "/v1/validation/carnet", content=body(carnet()), headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401


# -- anonymous use ---------------------------------------------------------------------------


async def test_anonymous_validation_is_off_by_default(client):
    response = await client.post("/v1/validation/carnet", content=body(carnet()))
    assert response.status_code == 401
    assert response.json()["code"] == "non_authentifie"
    assert "anonyme" in response.json()["title"]


async def test_anonymous_validation_is_rate_limited_per_address(anonymous):
    statuses = [
        (await anonymous.post("/v1/validation/carnet", content=body(carnet()))).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    response = await anonymous.post("/v1/validation/carnet", content=body(carnet()))
    assert response.json()["code"] == "trop_de_requetes"
    assert int(response.headers["retry-after"]) >= 1


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(30.0)
    assert buckets.take("b") == 0.0
    now[0] = 30.0
    assert buckets.take("a") == 0.0


async def test_anonymous_batches_are_bounded_by_their_own_line_limit(public_database):
    settings = Settings(
        environment="test",
        issuer=BASE_URL,
        validation_anonymous_per_minute=10,
        validation_anonymous_max_lines=2,
    )
    application = create_app(settings, database=public_database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            lines = ndjson(carnet(), carnet(), carnet())
            response = await client.post("/v1/validation/carnet", content=lines, headers=NDJSON)
    assert response.status_code == 413
    assert response.json()["code"] == "lot_trop_long"


# -- batches ---------------------------------------------------------------------------------


async def test_batch_findings_are_grouped_over_ranges_of_lines(client, partner):
    p = await partner("editeur_logiciel")
    wrong = carnet(diagnostic=TYPO_SITUATION)
    lines = ndjson(
        wrong, wrong, wrong, carnet(), wrong, b"", b"{pas du json", carnet(axes=OUTSIDE_AXIS)
    )
    response = await client.post(
        "/v1/validation/carnet", content=lines, headers={**p.headers, **NDJSON}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["valide"] is False
    assert (report["nombre_lignes"], report["lignes_valides"], report["lignes_invalides"]) == (
        7,
        2,
        5,
    )
    assert (report["nombre_erreurs"], report["nombre_avertissements"]) == (5, 1)
    typo, malformed = report["erreurs"]
    assert typo["pointer"] == "/diagnostic/situations/0/code"
    assert typo["suggestion"] == "logement.heberge_chez_tiers"
    assert (typo["nombre"], typo["lignes"]) == (4, [[1, 3], [5, 5]])
    assert (malformed["code"], malformed["lignes"]) == ("json_invalide", [[7, 7]])
    (warning,) = report["avertissements"]
    assert (warning["code"], warning["lignes"]) == ("objectif_hors_axe", [[8, 8]])
    assert report["tronque"] is False


async def test_a_line_too_long_is_refused_alone(client, partner, settings):
    p = await partner("editeur_logiciel")
    huge = carnet(evenements=[{"libelle": "x" * settings.max_body_bytes}])
    lines = ndjson(carnet(), huge, carnet())
    response = await client.post(
        "/v1/validation/carnet", content=lines, headers={**p.headers, **NDJSON}
    )
    report = response.json()
    assert (report["lignes_valides"], report["lignes_invalides"]) == (2, 1)
    (error,) = report["erreurs"]
    assert (error["code"], error["pointer"], error["lignes"]) == ("ligne_trop_longue", "", [[2, 2]])


async def test_an_empty_batch_is_a_400(client, partner):
    p = await partner("editeur_logiciel")
    response = await client.post(
        "/v1/validation/carnet", content=b"\n\n", headers={**p.headers, **NDJSON}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "lot_vide"


async def test_a_batch_past_the_line_limit_is_a_413(db, partner, client):
    p = await partner("editeur_logiciel")
    settings = Settings(environment="test", issuer=BASE_URL, validation_max_lines=2)
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
            response = await other.post(
                "/v1/validation/carnet",
                content=ndjson(carnet(), carnet(), carnet()),
                headers={**p.headers, **NDJSON},
            )
    assert response.status_code == 413
    assert response.json()["code"] == "lot_trop_long"


async def test_a_streamed_batch_of_100000_lines_is_validated_and_grouped(anonymous):
    valid = json.dumps(carnet()).encode() + b"\n"
    wrong = json.dumps(carnet(diagnostic=TYPO_SITUATION)).encode() + b"\n"

    async def lines():
        # Chunks that cut lines anywhere: 1,000 lines at a time, split in the middle of one.
        for block in range(100):
            chunk = (valid if block < 50 else wrong) * 1000
            yield chunk[:777]
            yield chunk[777:]

    response = await anonymous.post(
        "/v1/validation/carnet", content=lines(), headers=NDJSON, timeout=None
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["nombre_lignes"], report["lignes_valides"]) == (100_000, 50_000)
    (error,) = report["erreurs"]
    assert (error["nombre"], error["lignes"]) == (50_000, [[50_001, 100_000]])


# -- the same engine everywhere --------------------------------------------------------------


def _cli(tmp_path, name, content, *args):
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(cli, ["validate", str(path), "-k", "carnet", "--json", *args])
    return [json.loads(line) for line in result.output.splitlines()]


async def test_api_cli_and_write_path_give_identical_errors(client, partner, tmp_path):
    p = await partner("departement")
    document = invalid_carnet()
    api = (
        await client.post("/v1/validation/carnet", content=body(document), headers=p.headers)
    ).json()
    (offline,) = _cli(tmp_path, "c.json", body(document))
    write = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert write.status_code == 422
    assert len(api["erreurs"]) == 5
    assert api == offline
    assert write.json()["errors"] == api["erreurs"]


async def test_api_cli_and_write_path_give_identical_warnings(client, partner, tmp_path):
    p = await partner("departement")
    document = carnet(axes=OUTSIDE_AXIS)
    api = (
        await client.post("/v1/validation/carnet", content=body(document), headers=p.headers)
    ).json()
    (offline,) = _cli(tmp_path, "c.json", body(document))
    write = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert write.status_code == 201, write.text
    assert len(api["avertissements"]) == 1
    assert api == offline
    assert write.json()["avertissements"] == api["avertissements"]


async def test_api_and_cli_give_the_same_batch_report(client, partner, tmp_path):
    p = await partner("editeur_logiciel")
    wrong = carnet(diagnostic=TYPO_SITUATION)
    lines = ndjson(wrong, carnet(), wrong, wrong, b"[]", carnet(axes=OUTSIDE_AXIS))
    api = (
        await client.post("/v1/validation/carnet", content=lines, headers={**p.headers, **NDJSON})
    ).json()
    (grouped,) = _cli(tmp_path, "lot.ndjson", lines, "--groupes")
    assert grouped == api
    per_line = _cli(tmp_path, "lot.ndjson", lines)
    expanded = sorted(
        (ligne, e["pointer"], e["code"], e["message"])
        for e in api["erreurs"]
        for first, last in e["lignes"]
        for ligne in range(first, last + 1)
    )
    assert expanded == sorted(
        (e["ligne"], e["pointer"], e["code"], e["message"]) for r in per_line for e in r["erreurs"]
    )
