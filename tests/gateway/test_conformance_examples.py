"""The conformance sample (openapi/examples): every kind has valid and invalid examples, each
with the exact answer of the validation API, and the OpenAPI document embeds the valid ones."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from typer.testing import CliRunner

import referential
from gateway.app import create_app
from gateway.cli import app as cli
from gateway.openapi import OPENAPI_FILE
from gateway.settings import Settings
from gateway.validation.examples import examples
from tests.gateway.conftest import BASE_URL

EXAMPLES = examples()


@pytest.fixture
async def anonymous(public_database) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(environment="test", issuer=BASE_URL, validation_anonymous_per_minute=1000)
    application = create_app(settings, database=public_database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


@pytest.mark.parametrize("kind", sorted(referential.PAYLOAD_KINDS))
def test_every_kind_has_valid_and_invalid_examples(kind):
    names = [e.name for e in EXAMPLES if e.kind == kind]
    assert any(n.startswith("valide") for n in names), kind
    assert sum(n.startswith("invalide") for n in names) >= 2, kind


def test_every_example_is_of_a_known_kind_and_has_its_expected_answer():
    assert {e.kind for e in EXAMPLES} == set(referential.PAYLOAD_KINDS)
    assert all(e.expected_path.is_file() for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.kind}/{e.name}")
async def test_the_api_answers_each_example_exactly_as_expected(anonymous, example):
    response = await anonymous.post(f"/v1/validation/{example.kind}", content=example.payload())
    assert response.status_code == 200
    expected = json.loads(example.expected_path.read_text(encoding="utf-8"))
    assert response.json() == expected
    assert expected["valide"] is example.meant_valid
    if not example.meant_valid:
        assert expected["erreurs"]


def test_the_expected_answers_are_up_to_date():
    result = CliRunner().invoke(cli, ["openapi", "examples", "--check"])
    assert result.exit_code == 0, result.output


def test_the_openapi_document_embeds_every_valid_example_and_no_invalid_one():
    document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    body = document["paths"]["/v1/validation/{kind}"]["post"]["requestBody"]
    embedded = body["content"]["application/json"]["examples"]
    valid = {f"{e.kind}-{e.name}": e for e in EXAMPLES if e.meant_valid}
    assert set(embedded) == set(valid)
    for name, example in valid.items():
        assert embedded[name]["value"] == json.loads(example.payload())
