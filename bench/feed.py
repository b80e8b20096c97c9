"""Change feed and delivery, side by side in one run.

(a) Feed page cost against history: the same page (``limite`` changes, read as a département
    would, need to know and categories applied) from a cursor near the end of a change log of
    10,000 rows, then of 1,000,000 rows (the same database, grown); median of ``--reads`` reads
    each. The ratio should stay at or under 1.5: a page costs the same whatever the history.
(b) Delivery throughput: ``--events`` queued deliveries pushed to a local receiver on the
    loopback (answers 204) by 1 worker, then by 2 workers (threads of this process), events/s.
(c) The outbox's cost on the write path: contributions (one changed value each, through the
    notebook service, one transaction each) with no subscription, then with 10 matching
    subscriptions (10 outbox rows per write, one multi-row insert), alternated in blocks in both
    orders; median writes/s and ratio.

Made-up data: ids and codes only. The database is a SQLite file in a temporary folder, or the
PostgreSQL database named by ``--url`` (emptied of the tables it fills: use a scratch one).

    uv run python bench/feed.py [--url postgresql+psycopg://…] [--reads N] [--events N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/http.py would shadow
# the standard library's package: start from the project root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from sqlalchemy import insert, text

from gateway.habilitation.categories import CATEGORY_BITS
from gateway.organisations.service import create_client
from gateway.sealing import Keyring, new_key
from gateway.storage import feed
from gateway.storage.database import Database
from gateway.storage.feed import Visibility
from gateway.storage.tables import Change, Delivery, NotebookRow, Organisation, Subscription
from gateway.subscriptions import signing
from gateway.subscriptions.outbox import PENDING, new_event_id
from gateway.subscriptions.service import seal_context
from gateway.subscriptions.worker import Worker

NOTEBOOKS = 1000
BATCH = 20_000
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
#: Seals the bench's signing secrets, as the gateway's keys do.
KEYRING = Keyring.parse(new_key())


def bench_subscription(
    subscription_id: str, target: str, client_id: str, *, actif: bool = True
) -> Subscription:
    """A subscription of the bench's organisation (through its active client ``client_id``:
    the outbox queues nothing for a disabled or unknown client) to every change, delivered to
    ``target``."""
    return Subscription(
        id=subscription_id,
        organisation_id="bench",
        client_id=client_id,
        url=target,
        territoires=[],
        sections=[],
        categories=[],
        types=["carnet.modifie"],
        secret=KEYRING.seal(signing.new_secret(), seal_context(subscription_id)),
        actif=actif,
        cree_le=NOW,
        modifie_le=NOW,
    )


def _notebooks(database: Database) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(NOTEBOOKS)]
    rows = [
        {
            "id": carnet_id,
            "territoire": "26",
            "version": 1,
            "nom_cle": f"nom{n}",
            "prenom_cle": "prenom",
            "date_naissance": date(1990, 1, 1),
            "document": {},
            "tete": b'"id":"%s"' % carnet_id.encode(),
            "categories": [],
            "cree_le": NOW,
            "modifie_le": NOW,
        }
        for n, carnet_id in enumerate(ids)
    ]
    with database.write() as session:
        session.execute(insert(NotebookRow.__table__), rows)  # type: ignore[attr-defined]
    return ids


def _grow(database: Database, ids: list[str], start: int, stop: int) -> None:
    """Change rows ``start`` to ``stop`` (versions 2… of the notebooks, round robin)."""
    mask = CATEGORY_BITS["parcours"]
    for low in range(start, stop, BATCH):
        rows = [
            {
                "carnet_id": ids[n % len(ids)],
                "version": 2 + n // len(ids),
                "sections": ["evenements"],
                "source": "bench",
                "horodatage": NOW,
                "masque": mask,
                "territoire": "26",
            }
            for n in range(low, min(stop, low + BATCH))
        ]
        with database.write() as session:
            session.execute(insert(Change.__table__), rows)  # type: ignore[attr-defined]


def _page_cost(database: Database, reads: int, limit: int) -> float:
    visibility = Visibility(
        territoires=("26",),
        portee="territoire",
        organisation_id="bench",
        categories=frozenset(CATEGORY_BITS),
    )
    with database.read() as session:
        # A cursor a little before the end: a reader that keeps up.
        position = session.execute(
            text("SELECT xid, seq FROM changements ORDER BY xid DESC, seq DESC LIMIT 1 OFFSET :n"),
            {"n": limit * 3},
        ).one()
    cursor = (int(position[0]), int(position[1]))
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        with database.read() as session:
            entries, _, _ = feed.page(session, visibility, cursor, limit)
        timings.append(time.perf_counter() - started)
        assert len(entries) == limit
    return statistics.median(timings)


def _receiver() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def _queue(database: Database, subscription_id: str, carnet_id: str, events: int) -> None:
    rows = [
        {
            "abonnement_id": subscription_id,
            "evenement_id": new_event_id(),
            "type": "carnet.modifie",
            "carnet_id": carnet_id,
            "version": n + 2,
            "territoire": "26",
            "sections": ["evenements"],
            "horodatage": NOW,
            "statut": PENDING,
            "tentatives": 0,
            "prochaine_tentative": NOW,
            "cree_le": NOW,
        }
        for n in range(events)
    ]
    with database.write() as session:
        session.execute(text("DELETE FROM livraisons"))
        session.execute(insert(Delivery.__table__), rows)  # type: ignore[attr-defined]


def _throughput(database: Database, workers: int, events: int) -> float:
    deliverers = [Worker(database, batch=50, keyring=KEYRING) for _ in range(workers)]

    def drain(worker: Worker) -> None:
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in deliverers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for worker in deliverers:
        worker.close()
    with database.read() as session:
        delivered = session.execute(
            text("SELECT count(*) FROM livraisons WHERE statut = 'livre'")
        ).scalar_one()
    assert delivered == events, delivered
    return events / elapsed


def _write_cost(database: Database, target: str, client_id: str, writes: int) -> dict[int, float]:
    """Writes/s with 0, 1 and 10 matching subscriptions, alternated in 4 blocks each."""
    from gateway.auth.principal import ClientRights, principal_of
    from gateway.habilitation import load_matrix
    from gateway.habilitation.guard import Guard
    from gateway.notebooks.service import NotebookService
    from referential import default_validator

    matrix, validator = load_matrix(), default_validator()
    rights = ClientRights("bench", "departement", ("26",), (), False)
    principal = principal_of(matrix, client_id, rights)
    guard = Guard(matrix, principal, "accompagnement")
    identity = b'{"personne": {"nom": "Banc", "prenom": "Essai", "date_naissance": "1990-01-01"}}'
    with database.write() as session:
        carnet_id = NotebookService(session, validator, guard).create_or_find(identity).row.id
    counter = iter(range(10**9))

    def block() -> float:
        started = time.perf_counter()
        for _ in range(writes):
            n = next(counter)
            # A value that changes at each write, observed later each time: a new version,
            # a notebook that does not grow.
            observed = (NOW + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
            body = orjson.dumps({"observe_le": observed, "droits": {"are": n % 2 == 0}})
            with database.write() as session:
                NotebookService(session, validator, guard).contribute(carnet_id, body, None)
        return writes / (time.perf_counter() - started)

    def subscriptions(count: int) -> None:
        """Activate the first ``count`` of the 10 subscriptions."""
        with database.write() as session:
            for n in range(10):
                session.execute(
                    text("UPDATE abonnements SET actif = :actif WHERE id = :id"),
                    {"actif": n < count, "id": f"bench-{n}"},
                )

    with database.write() as session:
        for n in range(10):
            session.add(bench_subscription(f"bench-{n}", target, client_id, actif=False))
        session.execute(text("UPDATE abonnements SET actif = false WHERE id = 'bench'"))
    rates: dict[int, list[float]] = {0: [], 1: [], 10: []}
    block()  # warm-up
    for turn in range(4):
        # Alternated, in both orders, so that a drift of the machine favours none.
        for count in (0, 1, 10) if turn % 2 == 0 else (10, 1, 0):
            subscriptions(count)
            rates[count].append(block())
    with database.read() as session:
        queued = session.execute(
            text("SELECT count(*) FROM livraisons WHERE abonnement_id LIKE 'bench-%'")
        ).scalar_one()
    assert queued == (1 + 10) * 4 * writes, queued
    return {count: statistics.median(values) for count, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--large", type=int, default=1_000_000, help="rows of the large log")
    parser.add_argument("--writes", type=int, default=300, help="contributions per block")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(folder.name) / 'bench.db'}"
    database = Database(url)
    database.migrate()
    with database.write() as session:
        for table in (
            "livraisons",
            "abonnements",
            "changements",
            "carnets",
            "clients",
            "organisations",
        ):
            session.execute(text(f"DELETE FROM {table}"))
    ids = _notebooks(database)
    print(f"engine: {database.dialect}")

    _grow(database, ids, 0, 10_000)
    small = _page_cost(database, args.reads, args.limit)
    _grow(database, ids, 10_000, args.large)
    large = _page_cost(database, args.reads, args.limit)
    print(f"(a) page of {args.limit} changes, 10,000 rows:    {small * 1000:8.3f} ms")
    print(f"    page of {args.limit} changes, {args.large:,} rows: {large * 1000:8.3f} ms")
    print(f"    ratio {args.large:,} / 10,000: {large / small:.2f} (target <= 1.5)")

    server, target = _receiver()
    with database.write() as session:
        session.add(
            Organisation(
                id="bench", nom="bench", type_acteur="departement", territoires=["26"], cree_le=NOW
            )
        )
        session.flush()
        client_id = create_client(session, organisation_id="bench", nom="bench").client.client_id
        session.add(bench_subscription("bench", target, client_id))
    rates = []
    for workers in (1, 2):
        _queue(database, "bench", ids[0], args.events)
        rates.append(_throughput(database, workers, args.events))
        print(f"(b) delivery, {workers} worker(s): {rates[-1]:8.0f} events/s")
    print(f"    ratio 2 workers / 1 worker: {rates[1] / rates[0]:.2f}")

    rates_by_count = _write_cost(database, target, client_id, args.writes)
    for count, rate in rates_by_count.items():
        ratio = rate / rates_by_count[0]
        print(f"(c) contributions, {count:2d} subscription(s): {rate:8.0f} writes/s  ({ratio:.2f})")
    server.shutdown()
    database.dispose()
    folder.cleanup()


if __name__ == "__main__":
    main()
