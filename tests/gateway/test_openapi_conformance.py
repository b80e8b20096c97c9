"""The API against its own OpenAPI document, with Schemathesis: no server error and no response
outside its documented schema, on every operation (SQLite only)."""

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.storage.database import Database
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import body, carnet

CHECKS = [not_a_server_error, response_schema_conformance]
STATUS_CHECKS = [status_code_conformance, content_type_conformance]
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

#: The app is built at import time so that Schemathesis can make one test per operation; its
#: SQLite database is only created and migrated by the ``gateway`` fixture.
DIRECTORY = Path(tempfile.mkdtemp(prefix="carnet-conformance-"))
DATABASE = Database(f"sqlite:///{DIRECTORY / 'carnet.db'}")
APP = create_app(Settings(environment="test", issuer=BASE_URL), database=DATABASE)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context, value):
    """A validation batch is documented as a string: its lines, sent as UTF-8."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP


@dataclass
class Gateway:
    """A partner's bearer token, and one of its notebooks."""

    client_id: str
    secret: str
    token: str
    carnet_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Finalite": "accompagnement"}


async def _prepare(client_id: str, secret: str) -> Gateway:
    async with APP.router.lifespan_context(APP):
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, secret),
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            response = await client.post(
                "/v1/carnets",
                content=body(carnet()),
                headers={"Authorization": f"Bearer {token}", "Finalite": "accompagnement"},
            )
            assert response.status_code == 201, response.text
            return Gateway(client_id, secret, token, response.json()["id"])


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    DATABASE.migrate()
    with DATABASE.write() as session:
        organisation = create_organisation(
            session, nom="Département conformité", type_acteur="departement", territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="si")
    yield asyncio.run(_prepare(created.client.client_id, created.secret))
    DATABASE.dispose()
    shutil.rmtree(DIRECTORY, ignore_errors=True)


def _existing_notebook(case, gateway):
    if "carnet_id" in (case.path_parameters or {}):
        # An existing notebook, so that reads and writes go past the 404.
        case.path_parameters["carnet_id"] = gateway.carnet_id


@schema.parametrize()
@SETTINGS
def test_every_operation_answers_without_server_error_within_its_schema(case, gateway):
    _existing_notebook(case, gateway)
    # A loopback host: the token endpoint refuses others with a server error (see below).
    case.call_and_validate(base_url=BASE_URL, headers=gateway.headers, checks=CHECKS)


@schema.parametrize()
@SETTINGS
def test_every_operation_documents_the_statuses_it_answers(case, gateway):
    _existing_notebook(case, gateway)
    case.call_and_validate(base_url=BASE_URL, headers=gateway.headers, checks=STATUS_CHECKS)


def test_token_request_over_plain_http_is_refused_without_server_error(gateway):
    async def token_request():
        async with APP.router.lifespan_context(APP):
            transport = httpx.ASGITransport(app=APP)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://carnet.example"
            ) as client:
                return await client.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(gateway.client_id, gateway.secret),
                )

    try:
        response = asyncio.run(token_request())
    except Exception as error:  # the test transport re-raises what the app did not handle
        pytest.fail(f"server error: unhandled {type(error).__name__}: {error}")
    assert response.status_code < 500, response.text
