"""Webhook subscriptions (/v1/abonnements): CRUD, filters, secret shown once, rotation."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.storage.tables import Subscription
from gateway.subscriptions import service, signing

URL = "/v1/abonnements"
TARGET = "https://si.departement.example/webhooks/carnet"


async def subscribe(client, p, **fields):
    response = await client.post(URL, json={"url": TARGET} | fields, headers=p.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_subscription_is_created_with_its_secret_shown_once(client, partner):
    p = await partner()
    created = await subscribe(client, p, sections=["orientation"], types=["carnet.modifie"])
    assert created["secret"].startswith("whsec_")
    assert created["url"] == TARGET
    assert created["sections"] == ["orientation"]
    assert created["types"] == ["carnet.modifie"]
    assert created["actif"] is True
    assert created["secrets_valides"] == 1
    read = await client.get(f"{URL}/{created['id']}", headers=p.headers)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert created["secret"] not in read.text
    listed = await client.get(URL, headers=p.headers)
    assert [s["id"] for s in listed.json()["elements"]] == [created["id"]]
    assert created["secret"] not in listed.text


async def test_default_subscriptions_follow_creations_and_changes_everywhere(client, partner):
    p = await partner()
    created = await subscribe(client, p)
    assert created["types"] == ["carnet.cree", "carnet.modifie"]
    assert created["territoires"] == created["sections"] == created["categories"] == []


async def test_another_organisation_does_not_see_a_subscription(client, partner):
    owner, other = await partner(), await partner()
    created = await subscribe(client, owner)
    assert (await client.get(URL, headers=other.headers)).json()["elements"] == []
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"{URL}/{created['id']}",
            headers=other.headers,
            json={} if method == "PATCH" else None,
        )
        assert response.status_code == 404, (method, response.text)
    rotation = await client.post(f"{URL}/{created['id']}/secret", headers=other.headers)
    assert rotation.status_code == 404


@pytest.mark.parametrize(
    ("fields", "pointer", "code"),
    [
        ({"url": "http://si.departement.example/hook"}, "/url", "url_non_https"),
        ({"url": "ftp://si.departement.example/hook"}, "/url", "url_non_https"),
        ({"url": "https://user:pw@si.example/hook"}, "/url", "url_invalide"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "/url", "url_reseau_interne"),
        ({"url": "https://10.1.2.3/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[fd00::1]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://192.168.0.10:8443/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[::ffff:10.0.0.1]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[64:ff9b::a9fe:a9fe]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[64:ff9b:1::808:808]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[2002:a00:1::1]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[::7f00:1]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://[::ffff:0:a00:1]/hook"}, "/url", "url_reseau_interne"),
        ({"url": "https://recepteur.example:abc/crochet"}, "/url", "url_invalide"),
        ({"url": "https://recepteur.example:99999/crochet"}, "/url", "url_invalide"),
        ({"url": "https://recepteur.example:0/crochet"}, "/url", "url_invalide"),
        ({"url": "https://\u0300a.example/crochet"}, "/url", "url_invalide"),
        ({"url": "https://[::1/crochet"}, "/url", "url_invalide"),
        ({"territoires": ["75"]}, "/territoires/0", "valeur_non_autorisee"),
        ({"sections": ["diagnostic", "inconnu"]}, "/sections/1", "valeur_non_autorisee"),
        ({"categories": ["secret_defense"]}, "/categories/0", "valeur_non_autorisee"),
        ({"types": ["carnet.supprime"]}, "/types/0", "valeur_non_autorisee"),
    ],
)
async def test_a_bad_field_is_a_located_422_and_creates_nothing(
    client, partner, fields, pointer, code
):
    p = await partner("departement", ["26"])
    response = await client.post(URL, json={"url": TARGET} | fields, headers=p.headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "abonnement_invalide"
    assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [(pointer, code)]
    assert (await client.get(URL, headers=p.headers)).json()["elements"] == []


@pytest.mark.parametrize(
    "content",
    [b"{", b"[]", json.dumps({"url": TARGET, "inconnu": 1}).encode(), b'{"sections": []}'],
)
async def test_a_malformed_body_is_a_4xx(client, partner, content):
    p = await partner()
    response = await client.post(
        URL, content=content, headers=p.headers | {"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(URL, headers=p.headers)).json()["elements"] == []


async def test_http_is_accepted_on_the_loopback_outside_production(client, partner):
    p = await partner()
    created = await subscribe(client, p, url="http://127.0.0.1:8765/hook")
    assert created["url"] == "http://127.0.0.1:8765/hook"


async def test_a_subscription_is_changed_and_disabled(client, partner):
    p = await partner()
    created = await subscribe(client, p)
    response = await client.patch(
        f"{URL}/{created['id']}",
        json={"sections": ["orientation", "contrat"], "actif": False},
        headers=p.headers,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["sections"] == ["contrat", "orientation"]
    assert changed["actif"] is False
    assert changed["motif_desactivation"] == "desactive"
    assert changed["url"] == TARGET
    enabled = await client.patch(f"{URL}/{created['id']}", json={"actif": True}, headers=p.headers)
    assert enabled.json()["motif_desactivation"] is None
    refused = await client.patch(f"{URL}/{created['id']}", json={"url": None}, headers=p.headers)
    assert refused.status_code == 422
    refused = await client.patch(
        f"{URL}/{created['id']}", json={"url": "http://example.org/"}, headers=p.headers
    )
    assert refused.status_code == 422
    refused = await client.patch(
        f"{URL}/{created['id']}", json={"url": "https://example.org:abc/"}, headers=p.headers
    )
    assert refused.status_code == 422
    assert [(e["pointer"], e["code"]) for e in refused.json()["errors"]] == [
        ("/url", "url_invalide")
    ]
    assert (await client.get(f"{URL}/{created['id']}", headers=p.headers)).json()["url"] == TARGET


async def test_a_deleted_subscription_is_gone(client, partner):
    p = await partner()
    created = await subscribe(client, p)
    assert (await client.delete(f"{URL}/{created['id']}", headers=p.headers)).status_code == 204
    assert (await client.get(f"{URL}/{created['id']}", headers=p.headers)).status_code == 404
    assert (await client.get(URL, headers=p.headers)).json()["elements"] == []


async def test_subscriptions_need_a_token(client):
    assert (await client.get(URL)).status_code == 401
    assert (await client.post(URL, json={"url": TARGET})).status_code == 401


def stored(db, subscription_id) -> Subscription:
    with db.read() as session:
        found = session.get(Subscription, subscription_id)
        session.expunge(found)
        return found


def verifies(secret, headers, body) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


async def test_a_rotation_issues_a_new_secret_and_keeps_the_old_one_valid_a_day(
    app, client, partner, db
):
    p = await partner()
    created = await subscribe(client, p)
    old = created["secret"]
    response = await client.post(f"{URL}/{created['id']}/secret", headers=p.headers)
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    read = (await client.get(f"{URL}/{created['id']}", headers=p.headers)).json()
    assert read["secrets_valides"] == 2
    assert read["precedent_expire_le"] == response.json()["precedent_expire_le"]
    assert new not in json.dumps(read)

    subscription = stored(db, created["id"])
    body = b'{"type": "carnet.modifie"}'
    now = datetime.now(UTC)
    during = signing.headers(
        service.valid_secrets(subscription, now, app.state.gateway.keyring),
        "msg_1",
        int(now.timestamp()),
        body,
    )
    # Each receiver, whichever secret it holds, verifies the delivery (an independent library).
    assert verifies(old, during, body)
    assert verifies(new, during, body)
    later = now + timedelta(hours=25)
    after = signing.headers(
        service.valid_secrets(subscription, later, app.state.gateway.keyring),
        "msg_2",
        int(now.timestamp()),
        body,
    )
    assert verifies(new, after, body)
    assert not verifies(old, after, body)


def test_a_signature_is_checked_by_the_standard_webhooks_library():
    secret = signing.new_secret()
    body = b'{"id": "evt"}'
    timestamp = int(datetime.now(UTC).timestamp())
    headers = signing.headers([secret], "msg_42", timestamp, body)
    assert verifies(secret, headers, body)
    assert not verifies(secret, headers, body + b" ")
    assert not verifies(signing.new_secret(), headers, body)
