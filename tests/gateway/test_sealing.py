"""Signing secrets sealed at rest: never in clear in the database, still signing deliveries
that an independent library verifies, keys rotated, the clear rows of older versions sealed
by the migration, a missing key a clear error at delivery."""

import asyncio
import json
import os
import stat
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from standardwebhooks import Webhook
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.sealing import Keyring, SealError, UnknownKey, new_key
from gateway.settings import Settings
from gateway.subscriptions import service
from gateway.subscriptions.service import seal_context
from gateway.subscriptions.signing import new_secret
from gateway.subscriptions.worker import Worker
from tests.gateway.conftest import TEST_KEYS, fresh_database
from tests.gateway.payloads import carnet, new_notebook, personne
from tests.gateway.receiver import serve

URL = "/v1/abonnements"
NEW_KEY = "neuve:" + "B" * 43 + "="


@pytest.fixture
def receiver():
    yield from serve()


async def subscribe(client, p, url):
    response = await client.post(URL, json={"url": url}, headers=p.headers)
    assert response.status_code == 201, response.text
    return response.json()


def stored_secrets(db, subscription_id):
    with db.read() as session:
        return session.execute(
            text("SELECT secret, secret_precedent FROM abonnements WHERE id = :id"),
            {"id": subscription_id},
        ).one()


async def deliver(db, keyring):
    worker = Worker(db, keyring=keyring)
    try:
        return await asyncio.to_thread(worker.run_once)
    finally:
        worker.close()


async def listed(client, p, subscription_id):
    response = await client.get(f"{URL}/{subscription_id}/livraisons", headers=p.headers)
    assert response.status_code == 200, response.text
    return response.json()["elements"]


async def test_the_database_never_holds_a_signing_secret_in_clear(client, partner, db, receiver):
    p = await partner()
    created = await subscribe(client, p, receiver.url)
    first = created["secret"]
    rotated = await client.post(f"{URL}/{created['id']}/secret", headers=p.headers)
    second = rotated.json()["secret"]
    secret, previous = stored_secrets(db, created["id"])
    for value in (secret, previous):
        assert value.startswith("a256gcm$essai$")
        assert first not in value
        assert second not in value
        assert first.removeprefix("whsec_") not in value
    with db.read() as session:
        dump = json.dumps(
            [list(r) for r in session.execute(text("SELECT * FROM abonnements"))], default=str
        )
    assert first.removeprefix("whsec_") not in dump
    assert second.removeprefix("whsec_") not in dump
    # The delivery is signed with both during the rotation: each verifies it.
    await new_notebook(client, p)
    assert await deliver(db, Keyring.parse(TEST_KEYS)) == 1
    [received] = receiver.received
    Webhook(first).verify(received.body, received.headers)
    Webhook(second).verify(received.body, received.headers)


async def test_after_a_key_rotation_the_old_key_still_opens_until_the_secrets_are_resealed(
    client, partner, db, receiver, monkeypatch
):
    p = await partner()
    created = await subscribe(client, p, receiver.url)
    both = Keyring.parse(f"{NEW_KEY},{TEST_KEYS}")  # the new key first: it seals
    await new_notebook(client, p)
    assert await deliver(db, both) == 1
    monkeypatch.setenv("CARNET_CLES_SECRETS", f"{NEW_KEY},{TEST_KEYS}")
    monkeypatch.setenv("CARNET_DATABASE_URL", db.engine.url.render_as_string(False))
    result = CliRunner().invoke(cli, ["abonnements", "resceller"])
    assert result.exit_code == 0, result.output
    assert "1 abonnement(s) scellé(s) de nouveau sous la clé « neuve »" in result.output
    assert stored_secrets(db, created["id"])[0].startswith("a256gcm$neuve$")
    # The old key may now go.
    await new_notebook(client, p, carnet(personne(nom="Autre")))
    assert await deliver(db, Keyring.parse(NEW_KEY)) == 1
    assert len(receiver.received) == 2
    for received in receiver.received:
        Webhook(created["secret"]).verify(received.body, received.headers)


async def test_a_secret_rotation_committed_during_the_reseal_is_not_lost(
    client, partner, db, receiver, monkeypatch
):
    if db.dialect != "postgresql":
        pytest.skip("SQLite: the reseal's write transaction (BEGIN IMMEDIATE) holds every writer")
    p = await partner()
    created = await subscribe(client, p, receiver.url)
    loop = asyncio.get_running_loop()
    rotations = []
    real = service.reseal

    def reseal_with_a_rotation_meanwhile(subscription, keyring):
        # Between the reseal's read and its write, the subscriber rotates its secret.
        if not rotations:
            rotated = asyncio.run_coroutine_threadsafe(
                client.post(f"{URL}/{subscription.id}/secret", headers=p.headers), loop
            ).result(timeout=30)
            assert rotated.status_code == 200, rotated.text
            rotations.append(rotated.json()["secret"])  # shown once to the subscriber
        return real(subscription, keyring)

    monkeypatch.setattr(service, "reseal", reseal_with_a_rotation_meanwhile)
    monkeypatch.setenv("CARNET_CLES_SECRETS", f"{NEW_KEY},{TEST_KEYS}")
    monkeypatch.setenv("CARNET_DATABASE_URL", db.engine.url.render_as_string(False))
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["abonnements", "resceller"])
    assert result.exit_code == 0, result.output
    assert "0 abonnement(s) scellé(s) de nouveau" in result.output
    assert "1 abonnement(s) dont le secret a changé pendant l'opération" in result.output
    [shown] = rotations
    # The next run seals the rotated secrets; the new secret is the one deliveries are signed with.
    monkeypatch.setattr(service, "reseal", real)
    again = CliRunner().invoke(cli, ["abonnements", "resceller"])
    assert again.exit_code == 0, again.output
    assert "1 abonnement(s) scellé(s) de nouveau sous la clé « neuve »" in again.output
    for value in stored_secrets(db, created["id"]):
        assert value.startswith("a256gcm$neuve$")
    await new_notebook(client, p)
    assert await deliver(db, Keyring.parse(NEW_KEY)) == 1
    [received] = receiver.received
    Webhook(shown).verify(received.body, received.headers)
    Webhook(created["secret"]).verify(received.body, received.headers)  # during the overlap


async def test_a_worker_without_the_key_sends_nothing_and_says_why(client, partner, db, receiver):
    p = await partner()
    created = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    assert await deliver(db, Keyring.parse(NEW_KEY)) == 1
    assert receiver.received == []
    [delivery] = await listed(client, p, created["id"])
    assert delivery["statut"] == "en_attente"  # retried: an operator restores the key
    assert delivery["derniere_erreur"] == "cle_secrets_inconnue"


async def test_a_key_of_the_same_name_but_another_value_is_a_clear_error(
    client, partner, db, receiver
):
    p = await partner()
    created = await subscribe(client, p, receiver.url)
    await new_notebook(client, p)
    assert await deliver(db, Keyring.parse("essai:" + "C" * 43 + "=")) == 1
    assert receiver.received == []
    [delivery] = await listed(client, p, created["id"])
    assert delivery["derniere_erreur"] == "secret_indechiffrable"


async def test_the_migration_seals_the_secrets_an_older_gateway_kept_in_clear(db, tmp_path):
    clear, previous = new_secret(), new_secret()
    subscription_id = str(uuid.uuid4())
    keyring = Keyring.parse(TEST_KEYS)
    for old in fresh_database(db.dialect, tmp_path, revision="0009"):
        now = datetime.now(UTC)
        with old.write() as session:
            session.execute(
                text(
                    "INSERT INTO abonnements (id, organisation_id, client_id, url, territoires,"
                    " sections, categories, types, secret, secret_precedent, precedent_expire_le,"
                    " actif, cree_le, modifie_le) VALUES (:id, 'o', 'c', 'https://x.example',"
                    " '[]', '[]', '[]', '[\"carnet.cree\"]', :secret, :previous, :now, true,"
                    " :now, :now)"
                ),
                {"id": subscription_id, "secret": clear, "previous": previous, "now": now},
            )
        old.migrate(keyring=keyring)
        with old.read() as session:
            secret, sealed_previous = session.execute(
                text("SELECT secret, secret_precedent FROM abonnements")
            ).one()
    assert secret.startswith("a256gcm$essai$")
    assert sealed_previous.startswith("a256gcm$essai$")
    assert keyring.open(secret, seal_context(subscription_id)) == clear
    assert keyring.open(sealed_previous, seal_context(subscription_id)) == previous


def test_a_sealed_secret_opens_only_for_its_subscription():
    keyring = Keyring.parse(TEST_KEYS)
    sealed = keyring.seal("whsec_x", seal_context("a"))
    assert keyring.open(sealed, seal_context("a")) == "whsec_x"
    with pytest.raises(SealError) as moved:
        keyring.open(sealed, seal_context("b"))
    assert moved.value.code == "secret_indechiffrable"
    with pytest.raises(UnknownKey):
        Keyring.parse(NEW_KEY).open(sealed, seal_context("a"))


def test_production_requires_explicit_keys(monkeypatch):
    monkeypatch.delenv("CARNET_CLES_SECRETS")
    production = {
        "environment": "production",
        "database_url": "postgresql+psycopg://carnet@db/carnet",
        "issuer": "https://carnet.example",
    }
    with pytest.raises(ValidationError, match="CARNET_CLES_SECRETS"):
        Settings(**production)
    assert Settings(**production, cles_secrets=SecretStr(new_key())).cles_secrets is not None


def test_malformed_keys_are_refused_without_being_echoed():
    with pytest.raises(ValidationError) as refused:
        Settings(cles_secrets=SecretStr("essai:tropcourte"))
    assert "tropcourte" not in str(refused.value)
    assert "32 octets" in str(refused.value)


def test_outside_production_the_keys_are_a_file_created_on_first_use(monkeypatch, tmp_path):
    from gateway.sealing import keyring

    monkeypatch.delenv("CARNET_CLES_SECRETS")
    path = tmp_path / "var" / "cles_secrets"
    settings = Settings(environment="development", cles_secrets_fichier=str(path))
    first = keyring(settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    sealed = first.seal("whsec_x", "ici")
    assert keyring(settings).open(sealed, "ici") == "whsec_x"  # the same file, the same key
