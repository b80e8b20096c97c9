"""Views are stored by section, and kept in memory by version: what a read serves is the view of
the whole stored state, whichever sections each write changed and whichever process wrote."""

from datetime import datetime

import httpx
import orjson

from gateway.app import create_app
from gateway.notebooks.view import render
from gateway.storage import notebooks as repository
from referential import default_validator
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import contribute, new_notebook

#: Contributions that change one or two sections each: values, a code and its label, an item
#: closed (its label gone), the last one closed (the section shown no more), a section emptied.
STEPS = [
    {"droits": {"are": True}},
    {
        "diagnostic": {
            "situations": [{"code": "logement.sans_hebergement"}, {"code": "mobilite.permis_b"}]
        }
    },
    {"situation": {"rqth": True}, "droits": {"ass": True}},
    {"diagnostic": {"situations": [{"code": "logement.sans_hebergement", "supprime": True}]}},
    {"coordonnees": {"courriel": "exemple@example.org"}},
    {"diagnostic": {"situations": [{"code": "mobilite.permis_b", "supprime": True}]}},
    {"coordonnees": {"courriel": None}},
    {"situation": {"rqth": False}},
]
#: Who writes each step: this process (True) or the other one. Two writes in a row by this
#: process render only the sections changed; one after the other process's renders them all.
HERE = [True, True, True, True, False, True, True, False]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _rendered_whole(db, carnet_id: str, head: dict) -> bytes:
    """The view of the notebook's whole stored state, every section rendered again."""
    with db.read() as session:
        state = repository.document(session, carnet_id)
    return render(
        carnet_id=carnet_id,
        version=head["version"],
        territoire=head["territoire"],
        cree_le=_instant(head["cree_le"]),
        modifie_le=_instant(head["modifie_le"]),
        state=state,
        validator=default_validator(),
    ).json


async def test_the_view_read_is_the_whole_states_whichever_process_wrote(
    settings, db, client, partner
):
    """Writes by this process (its states and views kept in memory) and by another one keeping
    nothing; each read, from this process, serves the version just written, byte for byte the
    view of the whole state rendered again."""
    p = await partner()
    carnet_id = await new_notebook(client, p)
    other = create_app(settings.model_copy(update={"state_cache_size": 0}), database=db)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url=BASE_URL) as peer,
    ):
        shown = set()
        for number, step in enumerate(STEPS):
            writer = client if HERE[number] else peer
            written = await contribute(writer, p, carnet_id, step)
            assert written.status_code == 200, written.text
            assert written.json()["version"] == number + 2
            if writer is peer:
                client.accesses.append("POST contributions (peer)")
            read = await client.get(f"/v1/carnets/{carnet_id}", headers=p.headers)
            assert read.status_code == 200, read.text
            assert read.headers["ETag"] == f'"v{number + 2}"'
            served = read.json()
            assert served["version"] == number + 2
            whole = _rendered_whole(db, carnet_id, served)
            assert read.content.startswith(whole[:-1] + b',"masques":')
            shown |= set(orjson.loads(whole))
    assert {"diagnostic", "coordonnees", "situation", "droits"} <= shown
    assert "diagnostic" not in served
    assert served["libelles"].get("situations") is None


def test_views_kept_in_memory_are_bounded_by_entries_and_bytes():
    """The oldest used go first once either bound is passed; a view larger than all the room
    is not kept."""
    from gateway.habilitation.categories import ProjectionCache

    cache = ProjectionCache(capacity=3, max_bytes=1000)
    for version in range(1, 4):
        cache.put(("c", version, None), (b"x" * 300, []))
    assert cache.get(("c", 1, None)) is not None  # now the most recently used
    cache.put(("c", 4, None), (b"x" * 300, []))  # 1,200 bytes: the oldest used goes
    assert cache.get(("c", 2, None)) is None
    assert [cache.get(("c", v, None)) is not None for v in (3, 1, 4)] == [True] * 3
    assert cache.size == 900
    cache.put(("c", 5, frozenset({"droits"})), (b"y" * 50, ["droits"]))  # a fourth entry
    assert cache.get(("c", 3, None)) is None
    assert cache.size == 650
    cache.put(("c", 6, None), (b"z" * 1001, []))
    assert cache.get(("c", 6, None)) is None
    assert cache.size == 650
