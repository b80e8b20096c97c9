"""The hottest routes read their parameters themselves and write on the event loop when the
embedded database is free: they answer as the other routes do, and never block the loop."""

import asyncio
import copy
import random
import sqlite3
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gateway.app import create_app
from gateway.storage.spool import JournalSpool
from referential import samples
from tests.gateway.payloads import carnet, contribute, new_notebook, personne, view

TOO_LONG = "x" * 37


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/carnets/{id}"),
        ("POST", "/v1/carnets/{id}/contributions"),
        ("GET", "/v1/carnets/{id}/droits"),
        ("PATCH", "/v1/carnets/{id}/droits"),
    ],
)
async def test_an_overlong_notebook_id_is_the_same_located_400_on_every_route(
    client, partner, method, path
):
    p = await partner()
    response = await client.request(
        method, path.format(id=TOO_LONG), headers=p.headers, content=b'{"are": true}'
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "parametres_invalides"
    assert problem["errors"] == [
        {
            "parameter": "carnet_id",
            "in": "path",
            "code": "parametre_invalide",
            "message": "Paramètre « carnet_id » invalide.",
        }
    ]


async def test_a_contribution_without_purpose_or_token_is_refused_as_elsewhere(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    url = f"/v1/carnets/{carnet_id}/contributions"
    anonymous = await client.post(url, content=b"{}")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    token_only = {"Authorization": p.headers["Authorization"]}
    no_purpose = await client.post(url, content=b"{}", headers=token_only)
    assert no_purpose.status_code == 400
    assert no_purpose.json()["code"] == "finalite_requise"


async def while_another_process_writes(
    db, client, request: Coroutine[Any, Any, httpx.Response]
) -> httpx.Response:
    """``request`` sent while another process holds SQLite's write lock: it waits (the loop
    serving meanwhile), and is answered once the lock is released."""
    other_process = sqlite3.connect(make_url(db.url).database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        pending = asyncio.create_task(request)
        await asyncio.sleep(0.3)
        assert not pending.done()
        health = await asyncio.wait_for(client.get("/healthz"), timeout=5)
        assert health.status_code == 200
    finally:
        other_process.rollback()
        other_process.close()
    return await asyncio.wait_for(pending, timeout=30)


async def test_a_write_waiting_for_another_process_lets_the_loop_serve(client, partner, db):
    """Another process holds SQLite's write lock: the contribution waits on a worker thread,
    the loop goes on serving, and the write lands once the lock is released."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write lock")
    p = await partner()
    carnet_id = await new_notebook(client, p)
    write = contribute(client, p, carnet_id, {"droits": {"are": True}})
    response = await while_another_process_writes(db, client, write)
    assert response.status_code == 200, response.text
    assert (await view(client, p, carnet_id))["droits"]["are"] is True


async def test_a_read_while_another_process_writes_is_answered_and_journaled_after(
    app, client, partner, db
):
    """Another process holds SQLite's write lock: the read is answered at once, its journal
    entry made durable in the journal's spool beside the database (ids and codes only), and
    moved into the journal once the lock is released."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write lock")
    p = await partner()
    carnet_id = await new_notebook(client, p)
    spool = app.state.gateway.journal.spool
    other_process = sqlite3.connect(make_url(db.url).database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        read = await asyncio.wait_for(
            client.get(f"/v1/carnets/{carnet_id}", headers=p.headers), timeout=5
        )
        assert read.status_code == 200, read.text
        assert spool.pending
        try:  # a move may have taken the entries already (it waits for the lock)
            spooled = spool.path.read_bytes()
        except FileNotFoundError:
            spooled = spool.taken.read_bytes()
        assert carnet_id.encode() in spooled
        assert b"Exemple" not in spooled
    finally:
        other_process.rollback()
        other_process.close()
    assert await app.state.gateway.journal.settle() >= 0
    assert not spool.pending
    journal = await client.get(f"/v1/carnets/{carnet_id}/journal", headers=p.headers)
    reads = [e for e in journal.json()["elements"] if e["action"] == "lecture"]
    assert [e["resultat"] for e in reads] == ["servi"]


async def test_spooled_journal_entries_of_a_stopped_process_land_at_the_next_start(
    settings, db, partner, client
):
    """Entries spooled by a process that stopped before moving them go into the journal when
    the next one starts."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write lock")
    spool = JournalSpool.of(db)
    assert spool is not None
    entry = {
        "horodatage": datetime.now(UTC),
        "client_id": "cli_avant_arret",
        "organisation_id": "org",
        "type_acteur": "departement",
        "carnet_id": None,
        "action": "lecture",
        "categories": [],
        "finalite": "accompagnement",
        "resultat": "servi",
        "agent": None,
    }
    spool.append([entry])
    client.accesses.append("la lecture d'avant l'arrêt")
    restarted = create_app(settings, database=db)
    async with restarted.router.lifespan_context(restarted):
        assert not spool.pending
    with db.read() as session:
        found = session.execute(
            text("SELECT count(*) FROM journal WHERE client_id = 'cli_avant_arret'")
        ).scalar_one()
    assert found == 1


async def test_a_read_whose_journal_cannot_be_written_is_refused_and_the_next_one_served(
    client, partner, db
):
    """No read without its journal entry: 503 ``journal_indisponible``; the journal written
    again, reads are served again."""
    p = await partner()
    carnet_id = await new_notebook(client, p)
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE journal RENAME TO journal_hors_service"))
    try:
        refused = await client.get(f"/v1/carnets/{carnet_id}", headers=p.headers)
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE journal_hors_service RENAME TO journal"))
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "journal_indisponible"
    assert "Héloïse" not in refused.text
    served = await client.get(f"/v1/carnets/{carnet_id}", headers=p.headers)
    assert served.status_code == 200, served.text


async def test_a_read_connection_the_server_closed_is_replaced(client, partner, db):
    """The hot read keeps its connections out of the pool: one the server has closed meanwhile
    (restart, idle timeout) is replaced, and the read answers."""
    if db.dialect != "postgresql":
        pytest.skip("a server that closes connections")
    p = await partner()
    carnet_id = await new_notebook(client, p)
    await view(client, p, carnet_id)
    admin = create_engine(db.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        terminated = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": make_url(db.url).database},
        ).scalar_one()
    admin.dispose()
    assert terminated >= 1
    for _ in range(3):
        assert (await view(client, p, carnet_id))["id"] == carnet_id


async def test_a_write_connection_left_unusable_is_replaced(client, partner, db):
    """SQLite's writers take turns on one kept connection: when its driver connection is
    found closed in a transaction, the write fails and the next ones run on a new one."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's kept writer connection")
    p = await partner()
    carnet_id = await new_notebook(client, p)

    def broken_write() -> None:
        with db.write() as session:
            session.connection().connection.dbapi_connection.close()
            session.execute(text("SELECT 1"))

    with pytest.raises(DBAPIError):
        broken_write()
    for value in (True, False):
        response = await contribute(client, p, carnet_id, {"droits": {"are": value}})
        assert response.status_code == 200, response.text
    assert (await view(client, p, carnet_id))["droits"]["are"] is False


async def test_a_write_connection_left_in_a_transaction_is_dropped(client, partner, db):
    """A failed write whose rollback fails too leaves the kept connection inside its
    transaction: it is dropped, and the next writes run on a new one."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's kept writer connection")
    p = await partner()
    carnet_id = await new_notebook(client, p)

    def failing_rollback(connection):
        raise RuntimeError("rollback failed")

    def failed_write() -> None:
        with db.write() as session:
            session.execute(text("SELECT 1"))
            raise ValueError("refused")

    event.listen(db.engine, "rollback", failing_rollback)
    try:
        with pytest.raises(RuntimeError):
            failed_write()
    finally:
        event.remove(db.engine, "rollback", failing_rollback)
    for value in (True, False):
        response = await contribute(client, p, carnet_id, {"droits": {"are": value}})
        assert response.status_code == 200, response.text
    assert (await view(client, p, carnet_id))["droits"]["are"] is False


async def test_the_server_checkpoints_the_wal_on_a_thread_of_its_own(client, partner, db):
    """Writers no longer copy the WAL into the database file themselves (below a large
    threshold): the server's checkpoint thread does, within a second."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    path = Path(make_url(db.url).database)
    p = await partner()
    carnet_id = await new_notebook(client, p)
    await asyncio.sleep(1.5)  # the creation is checkpointed
    before = path.read_bytes()
    for index in range(5):
        response = await contribute(client, p, carnet_id, {"droits": {"are": index % 2 == 0}})
        assert response.status_code == 200, response.text
    for _ in range(40):
        if path.read_bytes() != before:
            break
        await asyncio.sleep(0.1)
    assert path.read_bytes() != before


async def test_sections_sent_again_as_they_were_are_not_validated_again_and_answer_the_same(
    app, client, partner
):
    """A partner resends its whole file: the sections it sent before are taken from the
    sections known valid, and every answer is the one a full validation gives — the pointers
    applied and unchanged, and the errors, located in the body as sent."""
    p = await partner()
    notebook = samples.generate_carnet(random.Random(3), size="large")
    first = {k: v for k, v in notebook.items() if k not in ("personne", "territoire")}
    first["observe_le"] = "2026-01-01T00:00:00Z"
    second = copy.deepcopy(first) | {"observe_le": "2026-01-02T00:00:00Z"}
    second["droits"] = {"are": not (first.get("droits") or {}).get("are")}
    wrong = copy.deepcopy(second) | {"observe_le": "2026-01-03T00:00:00Z"}
    wrong["diagnostic"]["situations"][5]["code"] = "logement.inconnu"
    wrong["evenements"][0]["date"] = "2026-13-01T00:00:00Z"
    known = app.state.gateway.known_sections

    async def answers(prenom: str) -> list[tuple[int, object]]:
        carnet_id = await new_notebook(client, p, carnet(personne(prenom=prenom)))
        found = []
        for document in (first, second, wrong):
            response = await contribute(client, p, carnet_id, document)
            answer = response.json()
            found.append((response.status_code, answer.get("resultat") or answer["errors"]))
        found.append((200, (await view(client, p, carnet_id))["version"]))
        return found

    hits = known.hits
    remembered = await answers("Aline")
    assert known.hits - hits >= 8  # the sections of the first contribution, twice
    app.state.gateway.known_sections = None
    try:
        validated_in_full = await answers("Berthe")
    finally:
        app.state.gateway.known_sections = known
    assert remembered == validated_in_full
    assert [status for status, _ in remembered] == [200, 200, 422, 200]
    assert remembered[1][1]["appliques"] == ["/droits/are"]
    pointers = {error["pointer"] for error in remembered[2][1]}
    assert pointers == {"/diagnostic/situations/5/code", "/evenements/0/date"}
