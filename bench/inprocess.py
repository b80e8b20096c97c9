"""CPU per request of the notebook write or read, in process: no server, no socket, no client.

The gateway app (SQLite in a temporary folder, the same settings as the tests) is called
directly through ASGI, one request after the other, with the contributions of ``bench/http.py``
(each changes two values of a notebook; notebooks of ``--size``). Prints the requests' CPU time
(``time.process_time``, which another process's load disturbs far less than wall time); with
``--profile FILE`` writes a cProfile of the measured requests, and with ``--phases`` prints the
wall time per request of each phase of a write (validation, classification, lock, merge,
render, stored version, the write transaction's start and end), timed around the functions
without a profiler's overhead. To compare two versions of the
code, alternate runs of each in one session: on a shared machine, only side-by-side figures mean
something. This is a profiling aid, not a target: the targets are ``bench/http.py``'s ratios.

    uv run python bench/inprocess.py [--mode write|read] [--requests N] [--size normal|large]
                                     [--profile FILE] [--phases]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/http.py would shadow
# the standard library's package: start from the project root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import cProfile
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.http import bench_agent, contribution_body
from gateway.app import create_app
from gateway.habilitation import load_matrix
from gateway.habilitation.guard import Guard
from gateway.notebooks import service
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.storage import notebooks as repository
from gateway.storage.database import Database
from referential import samples

NOTEBOOKS = 50
WARM_UP = 100
HOST = "localhost"


class Caller:
    """Calls an ASGI app with whole requests, as a server would hand them over."""

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                *self.headers,
                *extra,
                (b"host", HOST.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": (HOST, 80),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


#: The phases of a write: (holder, attribute, label).
PHASES = (
    (service, "validated", "validation"),
    (Guard, "check_write", "classification and rights"),
    (service.NotebookService, "_locked", "lock and state"),
    (service, "merge", "merge"),
    (service, "compact", "compaction"),
    (service, "render", "render"),
    (repository, "save_version", "stored version"),
)


@contextmanager
def timed_phases(spent: defaultdict[str, float]) -> Iterator[None]:
    """Add the wall time of each phase to ``spent`` while the block runs."""
    originals = [(holder, name, getattr(holder, name)) for holder, name, _ in PHASES]

    def timed(function: Any, label: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - start

        return wrapper

    def transaction(function: Any) -> Any:
        @contextmanager
        def wrapper(self: Database, *args: Any, **kwargs: Any) -> Iterator[Any]:
            start = time.perf_counter()
            with function(self, *args, **kwargs) as session:
                spent["transaction start"] += time.perf_counter() - start
                yield session
                start = time.perf_counter()
            spent["transaction end (commit)"] += time.perf_counter() - start

        return wrapper

    write = Database.write
    for (holder, name, function), (_, _, label) in zip(originals, PHASES, strict=True):
        setattr(holder, name, timed(function, label))
    Database.write = transaction(write)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Database.write = write  # type: ignore[method-assign]
        for holder, name, function in originals:
            setattr(holder, name, function)


async def token(app: Any, database: Database) -> tuple[str, str]:
    """A département's token and its agent habilitated for the reserved categories."""
    with database.write() as session:
        organisation = create_organisation(
            session, nom="Banc en processus", type_acteur="departement", territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="bench")
        agent = bench_agent(session, organisation.id, "departement")
        assert agent is not None
    form = f"grant_type=client_credentials&client_id={created.client.client_id}"
    form += f"&client_secret={created.secret}"
    status, body = await Caller(app, {"Content-Type": "application/x-www-form-urlencoded"})(
        "POST", "/oauth/token", form.encode()
    )
    assert status == 200, body
    return str(orjson.loads(body)["access_token"]), agent


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="carnet-inprocess-"))
    database = Database(f"sqlite:///{folder / 'carnet.db'}")
    database.migrate()
    app = create_app(Settings(environment="test", issuer=f"http://{HOST}"), database=database)
    async with app.router.lifespan_context(app):
        purpose = load_matrix().actor("departement").finalites[0]
        access, agent = await token(app, database)
        headers = {
            "Authorization": f"Bearer {access}",
            "Finalite": purpose,
            "Agent": agent,
            "Content-Type": "application/json",
        }
        call = Caller(app, headers)
        rng = random.Random(1)
        ids = []
        for _ in range(NOTEBOOKS):
            notebook = samples.generate_carnet(rng, size=args.size)
            notebook["territoire"] = "26"
            status, body = await call("POST", "/v1/carnets", orjson.dumps(notebook))
            assert status == 201, body
            ids.append(orjson.loads(body)["id"])
        template = contribution_body(random.Random(2))
        start = datetime.now(UTC)

        def request(n: int) -> tuple[str, str, bytes]:
            carnet_id = ids[n % len(ids)]
            if args.mode == "read":
                return "GET", f"/v1/carnets/{carnet_id}", b""
            value = "true" if (n // len(ids)) % 2 == 0 else "false"
            moment = (start + timedelta(microseconds=100 * n)).isoformat()
            text = template.replace("__ARE__", value).replace("__RQTH__", value)
            text = text.replace("__OBS__", moment.replace("+00:00", "Z"))
            return "POST", f"/v1/carnets/{carnet_id}/contributions", text.encode()

        requests = [request(n) for n in range(WARM_UP + args.requests)]
        for method, path, body in requests[:WARM_UP]:
            status, answer = await call(method, path, body)
            assert status == 200, answer
        profile = cProfile.Profile() if args.profile else None
        spent: defaultdict[str, float] = defaultdict(float)
        with timed_phases(spent) if args.phases else nullcontext():
            cpu, wall = time.process_time(), time.perf_counter()
            if profile is not None:
                profile.enable()
            for method, path, body in requests[WARM_UP:]:
                status, answer = await call(method, path, body)
                assert status == 200, answer
            if profile is not None:
                profile.disable()
                profile.dump_stats(args.profile)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    database.dispose()
    print(
        f"{args.mode} ({args.size} notebooks): {args.requests} requests, "
        f"{cpu / args.requests * 1000:.3f} ms CPU each, {args.requests / wall:.0f} req/s"
    )
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {label:28s} {seconds / args.requests * 1e6:7.1f} us per request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("write", "read"), default="write")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--size", choices=samples.SIZES, default="normal")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured requests")
    parser.add_argument("--phases", action="store_true", help="time the phases of a write")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
