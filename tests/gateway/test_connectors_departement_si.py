"""The département IS connector end to end: the IS mocked with respx at the HTTP boundary,
the outbox and the delivery worker in between (connecteurs.md, « SI départemental »)."""

import asyncio
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from connectors import ChangeEvent, NonConformingBody, UpstreamConfiguration
from connectors.departement_si import DepartementSiConnector, DepartementSiSettings, payload
from gateway.app import create_app
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.subscriptions.worker import Worker
from tests.gateway.conftest import BASE_URL, Partner
from tests.gateway.payloads import carnet, new_notebook, personne
from tests.gateway.receiver import published
from tests.gateway.test_deliveries import Clock, queue_change

TOKEN_URL = "https://auth.si.example/oauth2/token"
EVENTS_URL = "https://si.example/api/evenements"
SLUG = "departement_si"
EVENEMENT_SCHEMA = published("departement_si_evenement")
EVENT_ID = "msg_5f0c1d2e3a4b4c5d8e9f00112233aabb"


def token(value="jeton-si", expires_in=300):
    return {"access_token": value, "token_type": "Bearer", "expires_in": expires_in}


@pytest.fixture
def si_client(db):
    """The département's client the connector serves in territory 26."""
    with db.write() as session:
        organisation = create_organisation(
            session, nom="Département 26", type_acteur="departement", territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="si")
        return organisation.id, created.client.client_id, created.secret


@pytest.fixture
def settings(si_client, monkeypatch):
    monkeypatch.setenv("CARNET_DEPARTEMENT_SI_BASE_URL", "https://si.example/api/")
    monkeypatch.setenv("CARNET_DEPARTEMENT_SI_TOKEN_URL", TOKEN_URL)
    monkeypatch.setenv("CARNET_DEPARTEMENT_SI_CLIENT_ID", "passerelle")
    monkeypatch.setenv("CARNET_DEPARTEMENT_SI_CLIENT_SECRET", "secret-si")
    monkeypatch.setenv("CARNET_DEPARTEMENT_SI_SCOPE", "evenements:ecrire")
    return Settings(environment="test", issuer=BASE_URL, connecteurs={SLUG: {"26": si_client[1]}})


@pytest.fixture
async def app(settings, db):
    # The connector comes from its entry point (pyproject.toml), as in production.
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def departement(client, si_client):
    organisation_id, client_id, secret = si_client
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return Partner(organisation_id, client_id, secret, response.json()["access_token"])


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(app, db, clock):
    deliverer = Worker(db, now=clock, connectors=app.state.gateway.connectors)
    yield deliverer
    deliverer.close()


@pytest.fixture
def si():
    with respx.mock(assert_all_called=False) as router:
        router.route(host="localhost").pass_through()
        router.route(host="test").pass_through()
        router.post(TOKEN_URL, name="token").respond(json=token())
        events = router.post(EVENTS_URL, name="events").respond(202)
        yield router
        # Every event the IS received is an instance of the published schema (jsonschema, an
        # implementation independent of the connector's check).
        for call in events.calls:
            EVENEMENT_SCHEMA.validate(json.loads(call.request.content))


async def subscribe(client, who, **fields):
    response = await client.post(
        "/v1/abonnements", json={"url": f"connecteur:{SLUG}"} | fields, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client, who, subscription_id):
    response = await client.get(
        f"/v1/abonnements/{subscription_id}/livraisons", headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["elements"]


async def run(worker):
    return await asyncio.to_thread(worker.run_once)


async def health(client, who):
    listed = (await client.get("/v1/connecteurs", headers=who.headers)).json()["connecteurs"]
    (item,) = [c for c in listed if c["slug"] == SLUG]
    return item


async def test_a_change_is_delivered_with_the_documented_shape_and_the_bearer_token(
    client, departement, worker, si
):
    subscription = await subscribe(client, departement)
    carnet_id = await new_notebook(client, departement, carnet(personne(nom="Discrete")))
    assert await run(worker) == 1
    assert si["token"].call_count == 1
    form = parse_qs(si["token"].calls.last.request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "scope": ["evenements:ecrire"],
        "client_id": ["passerelle"],
        "client_secret": ["secret-si"],
    }
    request = si["events"].calls.last.request
    assert request.headers["authorization"] == "Bearer jeton-si"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "livre"
    assert request.headers["idempotency-key"] == delivery["evenement_id"]
    assert body == {
        "schema": "carnet.evenement/1",
        "id": delivery["evenement_id"],
        "type": "carnet.cree",
        "horodatage": body["horodatage"],
        "carnet": {"id": carnet_id, "version": 1, "territoire": "26"},
        "sections": ["personne"],
    }
    assert body["horodatage"].endswith("Z")
    # Nothing personal: no name, no birth date, no NIR, whatever the notebook holds.
    assert b"Discrete" not in request.content
    assert set(body) == {"schema", "id", "type", "horodatage", "carnet", "sections"}
    # The token is cached: a second change makes no token request.
    await new_notebook(client, departement)
    assert await run(worker) == 1
    assert si["token"].call_count == 1
    assert si["events"].call_count == 2
    item = await health(client, departement)
    assert item["capacites"] == ["deliver"]
    assert item["territoires"] == ["26"]
    assert item["sante"]["compteurs"]["appels"] == 2
    assert item["sante"]["compteurs"]["reussites"] == 2
    assert item["sante"]["derniere_reussite"] is not None
    assert item["sante"]["dernier_echec"] is None


async def test_a_5xx_is_retried_through_the_outbox_then_delivered(
    client, departement, worker, si, clock
):
    si["events"].side_effect = [httpx.Response(503), httpx.Response(200)]
    subscription = await subscribe(client, departement)
    await new_notebook(client, departement)
    assert await run(worker) == 1
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "en_attente"
    assert delivery["tentatives"] == 1
    assert delivery["derniere_erreur"] == "amont_indisponible"
    assert await run(worker) == 0  # not due yet: the outbox's backoff
    clock.advance(timedelta(seconds=10))
    assert await run(worker) == 1
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "livre"
    assert delivery["tentatives"] == 2
    first, second = (call.request for call in si["events"].calls)
    assert json.loads(first.content) == json.loads(second.content)  # the same event
    item = await health(client, departement)
    assert item["sante"]["compteurs"]["echecs"] == 1
    assert item["sante"]["compteurs"]["reussites"] == 1
    assert item["sante"]["dernier_echec"]["code"] == "amont_indisponible"


async def test_a_rejected_event_is_a_dead_letter_at_once_and_redeliverable(
    client, departement, worker, si
):
    si["events"].respond(422, json={"erreur": "schema"})
    subscription = await subscribe(client, departement)
    await new_notebook(client, departement)
    assert await run(worker) == 1
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "echec"
    assert delivery["derniere_erreur"] == "requete_amont_rejetee"
    item = await health(client, departement)
    assert item["sante"]["dernier_echec"]["code"] == "requete_amont_rejetee"
    # Once the IS is fixed, an operator or the subscriber redelivers the dead letter.
    si["events"].respond(202)
    response = await client.post(
        f"/v1/abonnements/{subscription['id']}/livraisons/{delivery['id']}/relivrer",
        headers=departement.headers,
    )
    assert response.status_code == 202, response.text
    assert await run(worker) == 1
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "livre"
    assert si["events"].call_count == 2


async def test_a_refused_token_is_a_dead_letter_and_no_event_is_sent(
    client, departement, worker, si
):
    si["token"].respond(401, json={"error": "invalid_client"})
    subscription = await subscribe(client, departement)
    await new_notebook(client, departement)
    assert await run(worker) == 1
    assert not si["events"].called
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "echec"
    assert delivery["derniere_erreur"] == "configuration_amont"
    item = await health(client, departement)
    assert item["sante"]["compteurs"]["echecs"] == 1
    assert item["sante"]["dernier_echec"]["code"] == "configuration_amont"


async def test_another_clients_subscription_to_the_connector_is_not_delivered(
    client, partner, worker, si
):
    other = await partner("departement", ["26"])
    subscription = await subscribe(client, other)
    await new_notebook(client, other)
    assert await run(worker) == 1
    assert not si["events"].called
    [delivery] = await deliveries(client, other, subscription["id"])
    assert delivery["statut"] == "echec"
    assert delivery["derniere_erreur"] == "connecteur_non_active"


async def test_an_invalid_connector_target_is_refused(client, departement):
    response = await client.post(
        "/v1/abonnements", json={"url": "connecteur:Pas un slug"}, headers=departement.headers
    )
    assert response.status_code == 422


def settings_of(**changes):
    values = {
        "base_url": "https://si.example/api",
        "token_url": TOKEN_URL,
        "client_id": "passerelle",
        "client_secret": "secret-si",
    }
    return DepartementSiSettings.model_validate(values | changes)


def event(**body):
    return ChangeEvent(
        "c-1",
        3,
        ("orientation",),
        {
            "evenement_id": EVENT_ID,
            "type": "carnet.modifie",
            "horodatage": "2026-01-01T00:00:00Z",
            "territoire": "26",
        }
        | body,
    )


async def test_the_token_is_renewed_shortly_before_it_expires():
    now = [1000.0]
    connector = DepartementSiConnector(settings_of(token_margin_seconds=30), clock=lambda: now[0])
    with respx.mock() as router:
        issued = router.post(TOKEN_URL, name="token")
        issued.side_effect = [
            httpx.Response(200, json=token("un", 100)),
            httpx.Response(200, json=token("deux", 100)),
        ]
        events = router.post(EVENTS_URL, name="events").respond(204)
        await connector.deliver(event())
        now[0] += 60  # 40 s left, beyond the margin: cached
        await connector.deliver(event())
        now[0] += 15  # 25 s left, within the margin: renewed
        await connector.deliver(event())
        assert issued.call_count == 2
        tokens = [call.request.headers["authorization"] for call in events.calls]
        assert tokens == ["Bearer un", "Bearer un", "Bearer deux"]
    await connector.aclose()


async def test_a_token_refused_by_the_is_is_an_operator_error():
    connector = DepartementSiConnector(settings_of())
    with respx.mock() as router:
        router.post(TOKEN_URL, name="token").respond(400, json={"error": "invalid_scope"})
        with pytest.raises(UpstreamConfiguration):
            await connector.deliver(event())
    await connector.aclose()


def test_the_payload_carries_no_more_than_ids_version_sections_and_time():
    assert payload(event()) == {
        "schema": "carnet.evenement/1",
        "id": EVENT_ID,
        "type": "carnet.modifie",
        "horodatage": "2026-01-01T00:00:00Z",
        "carnet": {"id": "c-1", "version": 3, "territoire": "26"},
        "sections": ["orientation"],
    }


def test_the_secret_is_a_secret():
    assert "secret-si" not in repr(settings_of())


async def test_an_event_outside_the_published_schema_is_not_sent():
    connector = DepartementSiConnector(settings_of())
    with respx.mock(assert_all_called=False) as router:
        issued = router.post(TOKEN_URL, name="token").respond(json=token())
        events = router.post(EVENTS_URL, name="events").respond(202)
        with pytest.raises(NonConformingBody) as raised:
            await connector.deliver(event(type="carnet.supprime", horodatage="hier"))
        assert not issued.called
        assert not events.called
    assert raised.value.code == "corps_non_conforme"
    assert not raised.value.retryable
    assert [v.to_wire() for v in raised.value.violations] == [
        {"pointer": "/type", "code": "valeur_invalide"},
        {"pointer": "/horodatage", "code": "horodatage_invalide"},
    ]
    await connector.aclose()


async def test_a_queued_event_outside_the_schema_is_a_located_dead_letter(
    client, departement, worker, si, db
):
    subscription = await subscribe(client, departement)
    carnet_id = await new_notebook(client, departement)
    assert await run(worker) == 1
    assert queue_change(db, carnet_id, ["volet_retire"]) == 1
    assert await run(worker) == 1
    assert si["events"].call_count == 1  # the creation only
    dead, delivered = await deliveries(client, departement, subscription["id"])
    assert delivered["statut"] == "livre"
    assert dead["statut"] == "echec"
    assert dead["derniere_erreur"] == "corps_non_conforme"
    assert dead["erreurs"] == [{"pointer": "/sections/0", "code": "valeur_invalide"}]
    item = await health(client, departement)
    assert item["sante"]["dernier_echec"]["code"] == "corps_non_conforme"


async def test_the_is_retry_after_defers_the_next_attempt(client, departement, worker, si, clock):
    si["events"].side_effect = [
        httpx.Response(429, headers={"Retry-After": "600"}),
        httpx.Response(202),
    ]
    subscription = await subscribe(client, departement)
    await new_notebook(client, departement)
    before = clock()
    assert await run(worker) == 1
    [delivery] = await deliveries(client, departement, subscription["id"])
    moment = datetime.fromisoformat(delivery["prochaine_tentative"].replace("Z", "+00:00"))
    assert moment >= before + timedelta(seconds=600)
    clock.advance(timedelta(seconds=60))
    assert await run(worker) == 0
    clock.advance(timedelta(seconds=600))
    assert await run(worker) == 1
    [delivery] = await deliveries(client, departement, subscription["id"])
    assert delivery["statut"] == "livre"
