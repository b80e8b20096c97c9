"""The outbox and its worker: signed deliveries, filters, retries, dead letter, 410,
redelivery, workers racing, a worker killed mid-delivery."""

import asyncio
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from sqlalchemy import text
from standardwebhooks import Webhook
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.habilitation import load_matrix
from gateway.settings import Settings
from gateway.subscriptions import addresses
from gateway.subscriptions.outbox import enqueue
from gateway.subscriptions.worker import JITTER, LEASE, RETRY_AFTER_CAP, SCHEDULE, Worker
from tests.gateway.conftest import TEST_KEYS
from tests.gateway.payloads import at, carnet, contribute, join, new_notebook, personne
from tests.gateway.receiver import WEBHOOK as WEBHOOK_SCHEMA
from tests.gateway.receiver import serve
from tests.gateway.test_admin import operator
from tests.gateway.tls import authority, serve_tls

URL = "/v1/abonnements"


@pytest.fixture
def receiver():
    yield from serve()


class Clock:
    """The time, moved forward by the tests."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self):
        return datetime.now(UTC) + self.offset

    def advance(self, delta):
        self.offset += delta


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(db, clock):
    deliverer = Worker(db, now=clock)
    yield deliverer
    deliverer.close()


async def subscribe(client, p, url, **fields):
    response = await client.post(URL, json={"url": url} | fields, headers=p.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def run(worker):
    return await asyncio.to_thread(worker.run_once)


async def deliveries(client, p, subscription_id, **params):
    response = await client.get(
        f"{URL}/{subscription_id}/livraisons", params=params, headers=p.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["elements"]


def event(number):
    return {
        "evenements": [
            {"id": f"evt-{number}", "type": "autre", "date": at("2026-01-02"), "libelle": "É"}
        ]
    }


async def test_a_change_is_delivered_signed_without_personal_data(
    client, partner, receiver, worker
):
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    carnet_id = await new_notebook(client, p, carnet(personne(nom="Discrete")))
    assert await run(worker) == 1
    [received] = receiver.received
    Webhook(subscription["secret"]).verify(received.body, received.headers)
    body = json.loads(received.body)
    assert body["type"] == "carnet.cree"
    assert body["donnees"] == {
        "carnet_id": carnet_id,
        "version": 1,
        "territoire": "26",
        "sections": ["personne"],
    }
    assert b"Discrete" not in received.body
    [delivery] = await deliveries(client, p, subscription["id"])
    assert delivery["statut"] == "livre"
    assert delivery["evenement_id"] == received.headers["webhook-id"]
    assert await run(worker) == 0


async def test_only_the_matching_subscriptions_visible_to_their_organisation_get_a_change(
    client, partner, receiver, worker
):
    departement = await partner("departement", ["26"])
    other_territory = await partner("departement", ["07"])
    caf = await partner("caf_msa", ["26"])  # reads the rights only
    everything = await subscribe(client, departement, receiver.url)
    orientation = await subscribe(client, departement, receiver.url, sections=["orientation"])
    elsewhere = await subscribe(client, other_territory, receiver.url)
    carnet_id = await new_notebook(client, departement)
    await join(client, caf, carnet_id)
    rights = await subscribe(client, caf, receiver.url)
    health = {"observe_le": at("2026-02-01"), "situation": {"rqth": True}}
    assert (await contribute(client, departement, carnet_id, health)).status_code == 200
    await run(worker)
    assert len(await deliveries(client, departement, everything["id"])) == 3
    assert await deliveries(client, departement, orientation["id"]) == []
    assert await deliveries(client, other_territory, elsewhere["id"]) == []
    # The CAF subscribed after it joined: the health change is not for it.
    assert await deliveries(client, caf, rights["id"]) == []
    droits = {"observe_le": at("2026-02-02"), "droits": {"are": True}}
    assert (await contribute(client, departement, carnet_id, droits)).status_code == 200
    await run(worker)
    assert [d["version"] for d in await deliveries(client, caf, rights["id"])] == [4]


async def test_a_failing_receiver_is_retried_with_the_same_id_until_it_acknowledges(
    client, partner, receiver, worker, clock
):
    receiver.script = [500, 503, 429]
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    await run(worker)
    [pending] = await deliveries(client, p, subscription["id"])
    assert pending["statut"] == "en_attente"
    assert pending["dernier_statut_http"] == 500
    assert await run(worker) == 0  # not due yet
    for delay in SCHEDULE[:3]:
        clock.advance(delay * (1 + JITTER))
        assert await run(worker) == 1
    [delivered] = await deliveries(client, p, subscription["id"])
    assert delivered["statut"] == "livre"
    assert delivered["tentatives"] == 4
    assert len(set(receiver.ids())) == 1
    assert len(receiver.received) == 4


def test_the_retries_span_more_than_a_day_even_with_jitter():
    assert sum(SCHEDULE, timedelta()) * (1 - JITTER) >= timedelta(hours=24)


async def test_a_receiver_failing_every_attempt_leaves_a_dead_letter_that_can_be_redelivered(
    client, partner, receiver, worker, clock
):
    receiver.then = 500
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    await run(worker)
    for delay in SCHEDULE:
        clock.advance(delay * (1 + JITTER))
        assert await run(worker) == 1
    clock.advance(timedelta(days=2))
    assert await run(worker) == 0
    [dead] = await deliveries(client, p, subscription["id"], statut="echec")
    assert dead["tentatives"] == len(SCHEDULE) + 1
    assert dead["derniere_erreur"] == "statut_500"
    receiver.then = 200
    response = await client.post(
        f"{URL}/{subscription['id']}/livraisons/{dead['id']}/relivrer", headers=p.headers
    )
    assert response.status_code == 202, response.text
    assert await run(worker) == 1
    [delivered] = await deliveries(client, p, subscription["id"])
    assert delivered["statut"] == "livre"
    assert len(set(receiver.ids())) == 1


async def test_a_410_disables_the_subscription(client, partner, receiver, worker):
    receiver.script = [410]
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    carnet_id = await new_notebook(client, p)
    await run(worker)
    read = (await client.get(f"{URL}/{subscription['id']}", headers=p.headers)).json()
    assert read["actif"] is False
    assert read["motif_desactivation"] == "destinataire_disparu"
    assert (await contribute(client, p, carnet_id, event(1))).status_code == 200
    assert await run(worker) == 0
    assert len(receiver.received) == 1


async def test_redelivering_an_unknown_delivery_is_a_404(client, partner, receiver):
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    response = await client.post(
        f"{URL}/{subscription['id']}/livraisons/999/relivrer", headers=p.headers
    )
    assert response.status_code == 404


async def test_two_workers_racing_on_one_outbox_deliver_each_event_once(
    client, partner, receiver, db
):
    p = await partner()
    await subscribe(client, p, receiver.url)
    for n in range(30):
        await new_notebook(client, p, carnet(personne(nom=f"Course{n}")))
    workers = [Worker(db, batch=5) for _ in range(2)]

    def drain(deliverer):
        while deliverer.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for deliverer in workers:
        deliverer.close()
    ids = receiver.ids()
    assert len(ids) == 30
    assert len(set(ids)) == 30


async def test_rows_whose_lease_ended_during_a_long_pass_are_not_sent_again(
    client, partner, receiver, db
):
    served = serve()
    slow = next(served)
    slow.first_delay = 3  # the first delivery of the pass outlasts the one-second lease
    p = await partner()
    await subscribe(client, p, slow.url)
    await new_notebook(client, p)  # first in the queue: held by the slow receiver
    await subscribe(client, p, receiver.url)
    await new_notebook(client, p, carnet(personne(nom="Suivant")))
    first, second = (Worker(db, lease=timedelta(seconds=1)) for _ in range(2))
    try:
        passes = asyncio.create_task(run(first))
        assert await asyncio.to_thread(slow.first_arrived.wait, 30)
        await asyncio.sleep(1.2)  # every lease of the first pass has ended
        assert await run(second) == 3  # takes them all over, the slow one again included
        assert await passes == 3
    finally:
        first.close()
        second.close()
        served.close()
    assert len(receiver.received) == 1  # not again by the first worker once its lease ended
    slow_ids = slow.ids()
    assert len(slow_ids) == 3  # the one in flight when its lease ended, sent twice
    assert len(set(slow_ids)) == 2


async def test_an_event_held_by_a_killed_worker_is_delivered_later_by_another(
    client, partner, receiver, db
):
    receiver.first_delay = 30  # the first delivery hangs: the worker is killed meanwhile
    p = await partner()
    await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    environment = os.environ | {"CARNET_DATABASE_URL": db.engine.url.render_as_string(False)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from gateway.cli import main; main()", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert await asyncio.to_thread(receiver.first_arrived.wait, 60)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    receiver.first_delay = 0
    later = Worker(db, now=lambda: datetime.now(UTC) + LEASE * 2)
    try:
        assert await asyncio.to_thread(later.run_once) == 1
    finally:
        later.close()
    ids = receiver.ids()
    assert len(ids) == 2
    assert len(set(ids)) == 1  # the same event, delivered again


async def test_heartbeats_reach_the_subscriptions_that_ask_for_them(
    client, partner, receiver, db, clock
):
    p = await partner()
    await subscribe(client, p, receiver.url, types=["battement"])
    await subscribe(client, p, receiver.url + "/sans")
    deliverer = Worker(db, heartbeat=timedelta(hours=1), now=clock)
    try:
        assert await run(deliverer) == 1
        assert await run(deliverer) == 0
        clock.advance(timedelta(minutes=61))
        assert await run(deliverer) == 1
    finally:
        deliverer.close()
    bodies = [json.loads(r.body) for r in receiver.received]
    assert [b["type"] for b in bodies] == ["battement", "battement"]
    assert bodies[0]["donnees"] == {}
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 2


async def test_the_server_delivers_in_process_when_told_to(client, partner, receiver, db):
    from gateway.app import create_app
    from gateway.settings import Settings
    from tests.gateway.conftest import BASE_URL

    p = await partner()
    await subscribe(client, p, receiver.url)
    settings = Settings(environment="test", issuer=BASE_URL, livraisons_integrees=True)
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        await new_notebook(client, p)
        for _ in range(100):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["type"] == "carnet.cree"


async def test_an_operator_lists_the_failed_deliveries_of_its_territories(
    client, partner, receiver, worker, db
):
    receiver.then = 500
    association = await partner("structure_insertion", ["26"])
    elsewhere = await partner("departement", ["07"])
    here = await subscribe(client, association, receiver.url)
    await subscribe(client, elsewhere, receiver.url)
    await new_notebook(client, association)
    await new_notebook(client, elsewhere)
    assert await run(worker) == 2
    admin = await operator(client, db, ("26",))
    response = await client.get("/v1/admin/livraisons", headers=admin.headers)
    assert response.status_code == 200, response.text
    [seen] = response.json()["elements"]
    assert seen["abonnement_id"] == here["id"]
    assert seen["organisation_id"] == association.organisation_id
    assert seen["dernier_statut_http"] == 500
    failed = await client.get(
        "/v1/admin/livraisons", params={"statut": "livre"}, headers=admin.headers
    )
    assert failed.json()["elements"] == []
    refused = await client.get("/v1/admin/livraisons", headers=association.headers)
    assert refused.status_code == 403


async def test_an_operator_redelivers_a_failed_delivery_of_its_territories_only(
    client, partner, receiver, worker, db
):
    receiver.then = 500
    association = await partner("structure_insertion", ["26"])
    elsewhere = await partner("departement", ["07"])
    await subscribe(client, association, receiver.url)
    await subscribe(client, elsewhere, receiver.url)
    await new_notebook(client, association)
    await new_notebook(client, elsewhere)
    assert await run(worker) == 2
    admin = await operator(client, db, ("26",))
    [here] = (await client.get("/v1/admin/livraisons", headers=admin.headers)).json()["elements"]
    other = await operator(client, db, ("07",))
    [there] = (await client.get("/v1/admin/livraisons", headers=other.headers)).json()["elements"]
    outside = await client.post(
        f"/v1/admin/livraisons/{there['id']}/relivrer", headers=admin.headers
    )
    assert outside.status_code == 404
    refused = await client.post(
        f"/v1/admin/livraisons/{here['id']}/relivrer", headers=association.headers
    )
    assert refused.status_code == 403
    receiver.then = 200
    again = await client.post(f"/v1/admin/livraisons/{here['id']}/relivrer", headers=admin.headers)
    assert again.status_code == 202, again.text
    assert again.json()["statut"] == "en_attente"
    assert again.json()["tentatives"] == 0
    received = len(receiver.received)
    assert await run(worker) == 1
    assert len(receiver.received) == received + 1
    [done] = (
        await client.get("/v1/admin/livraisons", params={"statut": "livre"}, headers=admin.headers)
    ).json()["elements"]
    assert done["id"] == here["id"]


def queue_change(db, carnet_id, sections):
    """Queue a change as a notebook write does (the outbox's own function): here with a
    section the published schema does not know, as rows queued by an older gateway would."""
    with db.write() as session:
        return enqueue(
            session,
            load_matrix(),
            carnet_id=carnet_id,
            territoire="26",
            version=2,
            sections=sections,
            categories=[],
            created=False,
            at=datetime.now(UTC),
        )


async def test_a_body_outside_its_published_schema_is_never_sent_and_is_a_located_dead_letter(
    client, partner, receiver, worker, db
):
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    carnet_id = await new_notebook(client, p)
    assert await run(worker) == 1
    assert queue_change(db, carnet_id, ["volet_retire"]) == 1
    assert await run(worker) == 1
    assert len(receiver.received) == 1  # the creation only
    dead, delivered = await deliveries(client, p, subscription["id"])
    assert delivered["statut"] == "livre"
    assert delivered["erreurs"] == []
    assert dead["statut"] == "echec"
    assert dead["tentatives"] == 1
    assert dead["derniere_erreur"] == "corps_non_conforme"
    assert dead["erreurs"] == [{"pointer": "/donnees/sections/0", "code": "valeur_invalide"}]
    assert dead["dernier_statut_http"] is None
    admin = await operator(client, db, ("26",))
    listed = await client.get(
        "/v1/admin/livraisons", params={"statut": "echec"}, headers=admin.headers
    )
    assert [d["erreurs"] for d in listed.json()["elements"]] == [dead["erreurs"]]
    # Redelivered, it is checked again: still not sent.
    response = await client.post(
        f"{URL}/{subscription['id']}/livraisons/{dead['id']}/relivrer", headers=p.headers
    )
    assert response.status_code == 202, response.text
    assert await run(worker) == 1
    assert len(receiver.received) == 1
    [again] = await deliveries(client, p, subscription["id"], statut="echec")
    assert again["derniere_erreur"] == "corps_non_conforme"


class Resolver:
    """The resolution of the worker, answered by the test: ``answers[host]`` (a list of
    addresses, or an exception)."""

    def __init__(self):
        self.answers = {}
        self.asked = []

    def __call__(self, host, port):
        self.asked.append(host)
        answer = self.answers[host]
        if isinstance(answer, Exception):
            raise answer
        return [ipaddress.ip_address(a) for a in answer]


@pytest.fixture
def resolver(monkeypatch):
    resolve = Resolver()
    monkeypatch.setattr(addresses, "resolve", resolve)
    return resolve


class Recorder:
    """A transport standing for the network: what was sent, and where."""

    def __init__(self):
        self.requests = []

    def __call__(self, request):
        WEBHOOK_SCHEMA.validate(json.loads(request.content))
        self.requests.append(request)
        return httpx.Response(204)


@pytest.fixture
def network(db, clock):
    """The network as a :class:`Recorder`, and a worker (``network.worker``) sending there."""
    recorder = Recorder()
    recorder.worker = Worker(db, now=clock, transport=httpx.MockTransport(recorder))
    yield recorder
    recorder.worker.close()


async def test_a_name_is_resolved_at_each_delivery_and_the_address_checked_is_the_one_called(
    client, partner, receiver, worker, resolver
):
    resolver.answers["localhost"] = ["127.0.0.1"]
    port = receiver.url.split(":")[2].split("/")[0]
    p = await partner()
    subscription = await subscribe(client, p, f"http://localhost:{port}/webhooks")
    await new_notebook(client, p)
    assert await run(worker) == 1
    [received] = receiver.received
    assert received.headers["host"] == f"localhost:{port}"  # sent to 127.0.0.1, under its name
    assert resolver.asked == ["localhost"]
    # The name now resolves into the private network (DNS rebinding): refused, retried.
    resolver.answers["localhost"] = ["10.0.0.7"]
    await new_notebook(client, p, carnet(personne(nom="Rebond")))
    assert await run(worker) == 1
    assert len(receiver.received) == 1
    refused, delivered = await deliveries(client, p, subscription["id"])
    assert delivered["statut"] == "livre"
    assert refused["statut"] == "en_attente"
    assert refused["derniere_erreur"] == "adresse_interne"


async def test_https_goes_to_the_checked_address_with_the_name_as_host_and_tls_server_name(
    client, partner, network, resolver
):
    resolver.answers["recepteur.example"] = ["93.184.215.14"]
    p = await partner()
    subscription = await subscribe(client, p, "https://recepteur.example/crochets?x=1")
    await new_notebook(client, p)
    assert await run(network.worker) == 1
    [request] = network.requests
    assert str(request.url) == "https://93.184.215.14/crochets?x=1"
    assert request.headers["host"] == "recepteur.example"
    assert request.extensions["sni_hostname"] == "recepteur.example"
    Webhook(subscription["secret"]).verify(request.content, dict(request.headers))
    [delivery] = await deliveries(client, p, subscription["id"])
    assert delivery["statut"] == "livre"


async def test_a_connection_verified_for_one_name_is_never_reused_for_another_at_its_address(
    client, partner, db, clock, resolver, tmp_path
):
    # a.test has a certificate; b.test resolves to the same address (a poisoned name) and has
    # none there: its certificate must be checked on a connection of its own.
    ca, certificate, key = authority(tmp_path, "a.test")
    served = serve_tls(certificate, key)
    tls = next(served)
    resolver.answers["a.test"] = ["127.0.0.1"]
    resolver.answers["b.test"] = ["127.0.0.1"]
    deliverer = Worker(db, now=clock, verify=ssl.create_default_context(cafile=str(ca)))
    try:
        p = await partner()
        a = await subscribe(client, p, f"https://a.test:{tls.port}/crochets")
        await new_notebook(client, p)
        assert await run(deliverer) == 1  # a.test: a connection kept open, verified for it
        b = await subscribe(client, p, f"https://b.test:{tls.port}/crochets")
        await new_notebook(client, p, carnet(personne(nom="Second")))
        assert await run(deliverer) == 2
    finally:
        deliverer.close()
        served.close()
    assert tls.hosts == [f"a.test:{tls.port}"] * 2
    assert [d["statut"] for d in await deliveries(client, p, a["id"])] == ["livre", "livre"]
    [refused] = await deliveries(client, p, b["id"])
    assert refused["statut"] == "en_attente"
    assert refused["derniere_erreur"] == "certificat_invalide"
    assert refused["tentatives"] == 1


async def test_a_name_with_one_internal_address_is_refused_until_a_dead_letter(
    client, partner, network, clock, resolver
):
    resolver.answers["recepteur.example"] = ["93.184.215.14", "169.254.169.254"]
    p = await partner()
    subscription = await subscribe(client, p, "https://recepteur.example/crochets")
    await new_notebook(client, p)
    assert await run(network.worker) == 1
    for delay in SCHEDULE:
        clock.advance(delay * (1 + JITTER))
        assert await run(network.worker) == 1
    assert network.requests == []
    [dead] = await deliveries(client, p, subscription["id"])
    assert dead["statut"] == "echec"
    assert dead["derniere_erreur"] == "adresse_interne"
    assert dead["tentatives"] == len(SCHEDULE) + 1


@pytest.mark.parametrize(
    "internal",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254 (cloud metadata)
        "64:ff9b:1::808:808",  # local-use NAT64: the operator's own translator
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
    ],
)
async def test_an_ipv6_address_embedding_an_internal_ipv4_one_is_refused_at_delivery(
    client, partner, network, resolver, internal
):
    resolver.answers["recepteur.example"] = [internal]
    p = await partner()
    subscription = await subscribe(client, p, "https://recepteur.example/crochets")
    await new_notebook(client, p)
    assert await run(network.worker) == 1
    assert network.requests == []
    [refused] = await deliveries(client, p, subscription["id"])
    assert refused["derniere_erreur"] == "adresse_interne"


@pytest.mark.parametrize("public", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1"])
async def test_an_ipv6_address_embedding_a_public_ipv4_one_is_called(
    client, partner, network, resolver, public
):
    resolver.answers["recepteur.example"] = [public]
    p = await partner()
    subscription = await subscribe(client, p, "https://recepteur.example/crochets")
    await new_notebook(client, p)
    assert await run(network.worker) == 1
    [request] = network.requests
    assert request.url.host == public
    [delivered] = await deliveries(client, p, subscription["id"])
    assert delivered["statut"] == "livre"


async def test_a_name_that_does_not_resolve_is_retried_with_its_code(
    client, partner, network, resolver
):
    resolver.answers["absent.example"] = socket.gaierror(socket.EAI_NONAME, "inconnu")
    p = await partner()
    subscription = await subscribe(client, p, "https://absent.example/crochets")
    await new_notebook(client, p)
    assert await run(network.worker) == 1
    assert network.requests == []
    [pending] = await deliveries(client, p, subscription["id"])
    assert pending["statut"] == "en_attente"
    assert pending["derniere_erreur"] == "nom_introuvable"


async def test_a_url_the_http_client_refuses_is_a_dead_letter_and_stalls_no_other_delivery(
    client, partner, receiver, worker, db
):
    p = await partner()
    # Written before URLs were checked with the HTTP client: now refused at creation.
    poison = await subscribe(client, p, "https://recepteur.example/crochet")
    with db.write() as session:
        session.execute(
            text("UPDATE abonnements SET url = :url WHERE id = :id"),
            {"url": "https://recepteur.example:abc/crochet", "id": poison["id"]},
        )
    healthy = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    assert await run(worker) == 2  # the poison first in the queue, and the healthy one after
    [dead] = await deliveries(client, p, poison["id"])
    assert dead["statut"] == "echec"
    assert dead["derniere_erreur"] == "url_invalide"
    [delivered] = await deliveries(client, p, healthy["id"])
    assert delivered["statut"] == "livre"
    assert len(receiver.received) == 1
    assert await run(worker) == 0


async def test_an_unexpected_error_on_one_delivery_is_a_failed_attempt_and_the_pass_goes_on(
    client, partner, receiver, worker, resolver
):
    resolver.answers["panne.example"] = RuntimeError("panne")
    p = await partner()
    broken = await subscribe(client, p, "https://panne.example/crochet")
    healthy = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    assert await run(worker) == 2
    [failed] = await deliveries(client, p, broken["id"])
    assert failed["statut"] == "en_attente"
    assert failed["derniere_erreur"] == "erreur_livraison"
    assert failed["tentatives"] == 1
    [delivered] = await deliveries(client, p, healthy["id"])
    assert delivered["statut"] == "livre"


async def test_in_production_a_loopback_receiver_is_refused_at_delivery(
    client, partner, receiver, db
):
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)  # accepted outside production
    await new_notebook(client, p)
    production = Settings(
        environment="production",
        database_url="postgresql+psycopg://carnet@db.example/carnet",
        issuer="https://carnet.example",
        cles_secrets=TEST_KEYS,
    )
    deliverer = Worker(db, settings=production)
    try:
        assert await run(deliverer) == 1
    finally:
        deliverer.close()
    assert receiver.received == []
    [refused] = await deliveries(client, p, subscription["id"])
    assert refused["derniere_erreur"] == "adresse_interne"


def parse(moment):
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def refused_once(client, partner, receiver, worker, *answers):
    """A change delivered once to a receiver answering ``answers`` in turn: the partner, its
    subscription, and the delivery after that first attempt."""
    receiver.script = list(answers)
    p = await partner()
    subscription = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    assert await run(worker) == 1
    [pending] = await deliveries(client, p, subscription["id"])
    return p, subscription, pending


async def test_a_429_with_retry_after_in_seconds_is_not_retried_before_it(
    client, partner, receiver, worker, clock
):
    before = clock()
    p, subscription, pending = await refused_once(
        client, partner, receiver, worker, (429, {"Retry-After": "120"})
    )
    assert parse(pending["prochaine_tentative"]) >= before + timedelta(seconds=120)
    clock.advance(SCHEDULE[0] * (1 + JITTER))  # the backoff alone would retry now
    assert await run(worker) == 0
    clock.advance(timedelta(seconds=120))
    assert await run(worker) == 1
    [delivered] = await deliveries(client, p, subscription["id"])
    assert delivered["statut"] == "livre"


async def test_a_503_with_retry_after_as_an_http_date_is_not_retried_before_it(
    client, partner, receiver, worker, clock
):
    later = clock() + timedelta(hours=3)
    answer = (503, {"Retry-After": format_datetime(later, usegmt=True)})
    _, _, pending = await refused_once(client, partner, receiver, worker, answer)
    assert parse(pending["prochaine_tentative"]) >= later.replace(microsecond=0)
    assert parse(pending["prochaine_tentative"]) <= later + timedelta(seconds=1)
    clock.advance(timedelta(hours=2))
    assert await run(worker) == 0


async def test_a_retry_after_beyond_a_day_is_capped_and_one_on_another_status_ignored(
    client, partner, receiver, worker, clock
):
    before = clock()
    p, subscription, pending = await refused_once(
        client,
        partner,
        receiver,
        worker,
        (429, {"Retry-After": str(10**9)}),
        (500, {"Retry-After": "86400"}),
    )
    assert parse(pending["prochaine_tentative"]) <= before + RETRY_AFTER_CAP + timedelta(seconds=5)
    clock.advance(RETRY_AFTER_CAP + timedelta(seconds=5))
    assert await run(worker) == 1
    [pending] = await deliveries(client, p, subscription["id"])
    # A 500 is retried on the backoff schedule, whatever it says.
    assert parse(pending["prochaine_tentative"]) <= clock() + SCHEDULE[1] * (1 + JITTER)


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999",
        "9" * 400,
        "²",
        "-5",
        "1.5",
        "Fri, 99 Foo 2026 25:61:00 GMT",
        "Wed, 21 Oct 2015 07:28:00 GMT",  # a valid date, passed: no wait beyond the schedule
    ],
)
async def test_a_retry_after_unreadable_or_passed_retries_on_the_schedule_until_a_dead_letter(
    client, partner, receiver, worker, clock, value
):
    receiver.then = 503
    before = clock()
    p, subscription, pending = await refused_once(
        client, partner, receiver, worker, (503, {"Retry-After": value})
    )
    assert pending["statut"] == "en_attente"
    assert pending["dernier_statut_http"] == 503
    assert parse(pending["prochaine_tentative"]) <= before + SCHEDULE[0] * (1 + JITTER) + (
        timedelta(seconds=5)
    )
    receiver.then = (503, {"Retry-After": value})
    for delay in SCHEDULE:
        clock.advance(delay * (1 + JITTER))
        assert await run(worker) == 1
    clock.advance(timedelta(days=2))
    assert await run(worker) == 0
    [dead] = await deliveries(client, p, subscription["id"])
    assert dead["statut"] == "echec"
    assert dead["derniere_erreur"] == "statut_503"
    assert len(receiver.received) == len(SCHEDULE) + 1  # once an attempt, never once a lease


def purge(monkeypatch, db, **retentions):
    monkeypatch.setenv("CARNET_DATABASE_URL", db.engine.url.render_as_string(False))
    for name in ("livraisons", "battements", "changements"):
        monkeypatch.setenv(
            f"CARNET_{name.upper()}_RETENTION_JOURS", str(retentions.get(name, 1000))
        )
    result = CliRunner().invoke(cli, ["livraisons", "purger"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


async def test_delivered_events_heartbeats_and_dead_letters_are_purged_each_after_its_retention(
    client, partner, receiver, db, clock, monkeypatch
):
    instant = "0.0000001"  # days: everything already written is older
    p = await partner()
    subscription = await subscribe(
        client, p, receiver.url, types=["carnet.cree", "carnet.modifie", "battement"]
    )
    beating = Worker(db, heartbeat=timedelta(microseconds=1))  # a heartbeat at each pass
    try:
        await new_notebook(client, p)
        assert await run(beating) == 2  # the change and a heartbeat, delivered
        receiver.then = 500
        await new_notebook(client, p, carnet(personne(nom="Echec")))
        await new_notebook(client, p, carnet(personne(nom="Attente")))
        assert await run(beating) == 3  # two changes and a heartbeat, failed
    finally:
        beating.close()
    retrying = Worker(db, now=clock)
    try:
        for delay in SCHEDULE:
            clock.advance(delay * (1 + JITTER))
            assert await run(retrying) == 3
    finally:
        retrying.close()
    dead = await deliveries(client, p, subscription["id"], statut="echec")
    assert sorted(d["type"] for d in dead) == ["battement", "carnet.cree", "carnet.cree"]
    redelivered = next(d for d in dead if d["type"] == "carnet.cree")
    response = await client.post(
        f"{URL}/{subscription['id']}/livraisons/{redelivered['id']}/relivrer", headers=p.headers
    )
    assert response.status_code == 202

    assert purge(monkeypatch, db) == (
        "0 livraison(s) livrée(s), 0 battement(s), 0 lettre(s) morte(s) oubliée(s)."
    )
    assert purge(monkeypatch, db, livraisons=instant) == (
        "1 livraison(s) livrée(s), 0 battement(s), 0 lettre(s) morte(s) oubliée(s)."
    )
    assert purge(monkeypatch, db, battements=instant) == (
        "0 livraison(s) livrée(s), 2 battement(s), 0 lettre(s) morte(s) oubliée(s)."
    )
    assert purge(monkeypatch, db, changements=instant) == (
        "0 livraison(s) livrée(s), 0 battement(s), 1 lettre(s) morte(s) oubliée(s)."
    )
    # What is left: the redelivered event, still to deliver.
    [pending] = await deliveries(client, p, subscription["id"])
    assert pending["id"] == redelivered["id"]
    assert pending["statut"] == "en_attente"


def test_the_retentions_default_to_a_week_a_day_and_the_feed_s():
    settings = Settings()
    assert settings.livraisons_retention_jours == 7
    assert settings.battements_retention_jours == 1
    assert settings.changements_retention_jours == 30
