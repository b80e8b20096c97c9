"""The change feed (GET /v1/changements): order, pages, need to know, categories, retention."""

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.pagination import encode
from gateway.storage import notebooks as repository
from tests.gateway.payloads import at, carnet, contribute, join, new_notebook, personne

FEED = "/v1/changements"
runner = CliRunner()


async def read_feed(client, p, depuis=None, limite=None):
    params = {}
    if depuis is not None:
        params["apres"] = depuis
    if limite is not None:
        params["limite"] = limite
    response = await client.get(FEED, params=params, headers=p.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def read_all(client, p, depuis=None, limite=100):
    """Every change from ``depuis`` to the end, page by page; and the last cursor."""
    seen = []
    while True:
        page = await read_feed(client, p, depuis, limite)
        seen += [(c["carnet_id"], c["version"]) for c in page["elements"]]
        depuis = page["suivant"]
        if page["fin"]:
            return seen, depuis


def event(number):
    return {
        "evenements": [
            {
                "id": f"evt-{number}",
                "type": "autre",
                "date": at("2026-01-02"),
                "libelle": f"Événement {number}",
            }
        ]
    }


async def test_the_feed_lists_each_change_with_its_notebook_version_sections_and_time(
    client, partner
):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    assert (await contribute(client, p, carnet_id, event(1))).status_code == 200
    page = await read_feed(client, p)
    assert [(c["carnet_id"], c["version"]) for c in page["elements"]] == [
        (carnet_id, 1),
        (carnet_id, 2),
    ]
    assert page["elements"][0]["sections"] == ["personne"]
    assert page["elements"][1]["sections"] == ["evenements"]
    assert page["elements"][1]["horodatage"].endswith("Z")
    assert page["fin"] is True


async def test_the_feed_is_read_page_by_page_and_resumes_from_its_cursor(client, partner):
    p = await partner()
    ids = [await new_notebook(client, p, carnet(personne(nom=f"Nom{n}"))) for n in range(5)]
    first = await read_feed(client, p, limite=2)
    assert [c["carnet_id"] for c in first["elements"]] == ids[:2]
    assert first["fin"] is False
    rest, cursor = await read_all(client, p, first["suivant"], limite=2)
    assert [carnet_id for carnet_id, _ in rest] == ids[2:]
    # Nothing new: the same cursor, an empty page; then the next change, alone.
    assert (await read_feed(client, p, cursor))["elements"] == []
    assert (await contribute(client, p, ids[0], event(1))).status_code == 200
    assert (await read_all(client, p, cursor))[0] == [(ids[0], 2)]


async def test_the_feed_shows_only_the_notebooks_within_the_need_to_know(client, partner):
    departement = await partner("departement", ["26"])
    other_territory = await partner("departement", ["07"])
    association = await partner("structure_insertion", ["26"])
    followed = await new_notebook(client, departement, carnet(personne(nom="Suivie")))
    await new_notebook(client, departement, carnet(personne(nom="Autre")))
    await join(client, association, followed, carnet(personne(nom="Suivie")))
    seen_by_departement, _ = await read_all(client, departement)
    # Two creations, the follow-up group showing the association once it joined, its record.
    assert len(seen_by_departement) == 4
    assert (await read_all(client, other_territory))[0] == []
    # The association sees the notebook it joined (all its changes), not the other one.
    assert {carnet_id for carnet_id, _ in (await read_all(client, association))[0]} == {followed}


async def test_a_change_touching_only_withheld_categories_is_not_shown(client, partner):
    departement = await partner("departement", ["26"])
    caf = await partner("caf_msa", ["26"])  # reads the rights only
    carnet_id = await new_notebook(client, departement)
    await join(client, caf, carnet_id)
    _, cursor = await read_all(client, caf)
    health = {"observe_le": at("2026-02-01"), "situation": {"rqth": True}}
    rights = {"observe_le": at("2026-02-02"), "droits": {"are": True}}
    assert (await contribute(client, departement, carnet_id, health)).status_code == 200
    assert (await contribute(client, departement, carnet_id, rights)).status_code == 200
    seen, _ = await read_all(client, caf, cursor)
    versions = [v for _, v in (await read_all(client, departement))[0]]
    assert seen == [(carnet_id, versions[-1])]
    assert (await read_all(client, departement, cursor))[0] == [
        (carnet_id, versions[-2]),
        (carnet_id, versions[-1]),
    ]


async def test_a_feed_page_is_journaled_without_notebook(client, partner, db):
    p = await partner()
    await read_feed(client, p)
    with db.read() as session:
        rows = session.execute(
            text("SELECT action, carnet_id, resultat FROM journal WHERE client_id = :c"),
            {"c": p.client_id},
        ).all()
    assert [tuple(r) for r in rows] == [("changements", None, "servi")]


#: Cursors that are no cursor (not the encoding the API hands out), and well encoded positions
#: that are no position of the feed.
MALFORMED = ["!!!", "a", *(encode(None, c) for c in ("abc", "1", "1.2.3", "-1.0", "9" * 20 + ".0"))]


@pytest.mark.parametrize("cursor", MALFORMED)
async def test_a_malformed_cursor_is_a_located_400(client, partner, cursor):
    p = await partner()
    response = await client.get(FEED, params={"apres": cursor}, headers=p.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "apres"


async def test_the_feed_needs_a_token_and_a_purpose(client, partner):
    p = await partner()
    assert (await client.get(FEED)).status_code == 401
    response = await client.get(FEED, headers={"Authorization": p.headers["Authorization"]})
    assert response.status_code == 400
    assert response.json()["code"] == "finalite_requise"


async def test_a_cursor_before_the_purged_history_has_expired(client, partner, db, monkeypatch):
    p = await partner()
    first = await new_notebook(client, p)
    old_cursor = (await read_feed(client, p, limite=1))["suivant"]
    await new_notebook(client, p, carnet(personne(nom="Second")))
    third = await new_notebook(client, p, carnet(personne(nom="Troisieme")))
    _, last_cursor = await read_all(client, p)
    monkeypatch.setenv("CARNET_DATABASE_URL", db.engine.url.render_as_string(False))
    monkeypatch.setenv("CARNET_CHANGEMENTS_RETENTION_JOURS", "0.0000001")
    result = runner.invoke(cli, ["changements", "purger"])
    assert result.exit_code == 0, result.output
    # SQLite keeps the last change: its next row id follows it.
    kept = [(third, 1)] if db.dialect == "sqlite" else []
    assert f"{3 - len(kept)} changement(s)" in result.output
    for expired in (encode(None, "0.0"), old_cursor):
        response = await client.get(FEED, params={"apres": expired}, headers=p.headers)
        assert response.status_code == 410, response.text
        assert response.json()["code"] == "curseur_expire"
    # A reader that had read everything goes on; the next change follows.
    assert (await read_feed(client, p, last_cursor))["elements"] == []
    assert (await contribute(client, p, first, event(1))).status_code == 200
    assert (await read_all(client, p, last_cursor))[0] == [(first, 2)]
    # Without a cursor, the feed starts at what is kept.
    assert (await read_all(client, p))[0] == [*kept, (first, 2)]


# -- concurrent writers ---------------------------------------------------------------------

WRITERS = 24
WRITES_EACH = 4


async def test_readers_never_skip_a_change_while_many_writers_commit(client, partner, db):
    """Writers on distinct notebooks commit at once while a reader follows the feed: the
    reader ends with every change, once, and each notebook's versions in order."""
    p = await partner()
    ids = [
        await new_notebook(client, p, carnet(personne(nom=f"Ecrivain{n}"))) for n in range(WRITERS)
    ]
    _, cursor = await read_all(client, p)
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()

    async def writer(carnet_id):
        for n in range(WRITES_EACH):
            response = await contribute(client, p, carnet_id, event(n))
            assert response.status_code == 200, response.text

    async def reader():
        nonlocal cursor
        while True:
            finished = done.is_set()
            page = await read_feed(client, p, cursor, limite=7)
            seen.extend((c["carnet_id"], c["version"]) for c in page["elements"])
            cursor = page["suivant"]
            if finished and page["fin"]:
                return
            await asyncio.sleep(0)

    async def writers():
        await asyncio.gather(*(writer(carnet_id) for carnet_id in ids))
        done.set()

    await asyncio.gather(writers(), reader())
    expected = {(carnet_id, v) for carnet_id in ids for v in range(2, WRITES_EACH + 2)}
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    for carnet_id in ids:
        assert [v for c, v in seen if c == carnet_id] == list(range(2, WRITES_EACH + 2))


async def test_a_change_committed_after_a_later_one_is_not_skipped(client, partner, db):
    """PostgreSQL draws ``seq`` at insert time: a transaction holding a lower one can commit
    after one holding a higher one. The feed waits for it rather than pass it."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite commits one writer at a time")
    p = await partner()
    slow_id = await new_notebook(client, p, carnet(personne(nom="Lente")))
    fast_id = await new_notebook(client, p, carnet(personne(nom="Rapide")))
    _, cursor = await read_all(client, p)
    inserted, release = threading.Event(), threading.Event()

    def log(session, carnet_id):
        repository.log_change(
            session,
            carnet_id=carnet_id,
            version=50,
            sections=["evenements"],
            source="test",
            horodatage=datetime.now(UTC),
            territoire="26",
        )

    def slow():
        with db.write() as session:
            log(session, slow_id)
            inserted.set()
            release.wait(10)

    def fast():
        with db.write() as session:
            log(session, fast_id)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert await asyncio.to_thread(inserted.wait, 10)
        await asyncio.to_thread(fast)
        before, cursor = await read_all(client, p, cursor)
        assert before == []  # the later change waits for the earlier one
    finally:
        release.set()
        await asyncio.to_thread(thread.join)
    after, _ = await read_all(client, p, cursor)
    assert after == [(slow_id, 50), (fast_id, 50)]
