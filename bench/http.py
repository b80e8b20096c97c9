"""HTTP throughput of the gateway against a bare FastAPI baseline, measured side by side.

Starts, with the same uvicorn settings (one worker each), the gateway on a fresh database and
the bare app of ``bench/bare_app.py``, loads them with wrk at 50 connections in turns (each path
once per turn, three turns: the load of a shared machine drifts over a run, and a turn compares
measures taken seconds apart), and prints requests/s and p99 for:

- contribution write (``POST /v1/carnets/{id}/contributions``, a ~10 KB contribution that changes
  two values each time: validation, merge, new version, change log, commit) vs bare parse
  (``model_validate_json`` of the same body);
- notebook read (``GET /v1/carnets/{id}`` with token check, purpose, need to know, projection
  and access journal) vs bare return of a 10 KB notebook;
- the same read vs the plain read of the core issue (``bench/plain_read_app.py``: token check
  and stored view only), by a département (nothing withheld) and by a CAF (most withheld).

Targets (SQLite, one worker): write ≥ 0.25× bare parse, read ≥ 0.5× bare return, read p99 under
50 ms, read with habilitation ≥ 0.7× plain read. ``--database postgresql`` runs the gateway on
the local PostgreSQL instead.

Needs wrk (Debian package ``wrk``). ``--profile`` records the gateway's stacks with py-spy: the
threads holding the interpreter lock, or every thread's wall-clock time (idle included) with
``BENCH_PROFILE_WALL=1``. Usage: ``uv run python bench/http.py [--seconds 10] [--only write|read] [--profile FILE]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where "http" would shadow the
# standard library's package: start from the project root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = 50
#: Turns of the read comparisons (median kept).
ROUNDS = 3
CONNECTIONS = 50

WRITE_SCRIPT = """
local ids = {%(ids)s}
local body = [==[%(body)s]==]
local base = %(base)f
local counter = 0
-- Each thread's number, set by setup() in the thread's own state (a global: thread:set sets
-- globals, never a local of the script).
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function request()
  counter = counter + 1
  local n = counter * 2 + tid
  local id = ids[(n %% #ids) + 1]
  -- Each visit to a notebook flips the two values, observed later than anything it holds
  -- (0.1 ms after the run's start per request: never in the future below 10,000 writes/s),
  -- so every write changes the notebook.
  local are = (math.floor(n / #ids) %% 2 == 0) and "true" or "false"
  local moment = base + n / 10000
  local seconds = math.floor(moment)
  local stamp = os.date("!%%Y-%%m-%%dT%%H:%%M:%%S", seconds)
    .. string.format(".%%04dZ", math.floor((moment - seconds) * 10000))
  local payload = body:gsub("__ARE__", are):gsub("__RQTH__", are):gsub("__OBS__", stamp)
  return wrk.format("POST", "/v1/carnets/" .. id .. "/contributions", nil, payload)
end
"""
READ_SCRIPT = """
local ids = {%(ids)s}
local counter = 0
function request()
  counter = counter + 1
  return wrk.format("GET", "/v1/carnets/" .. ids[(counter %% #ids) + 1])
end
"""
STATIC_POST_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class Result:
    requests_per_second: float
    p99_ms: float
    errors: str
    requests: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(app: str, env: dict[str, str], profile: Path | None = None) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--loop", "asyncio", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if profile is not None:
        # Sampled stacks of the whole run, collapsed (one line per stack, with its count).
        command = [
            "py-spy",
            "record",
            "--idle" if os.environ.get("BENCH_PROFILE_WALL") else "--gil",
            "-r",
            "250",
            "--format",
            "raw",
            "-o",
            str(profile),
            "--",
            *command,
        ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/docs", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def wrk(url: str, script: str, seconds: int, headers: dict[str, str]) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = [
        "wrk",
        "-t1" if CONNECTIONS < 2 else "-t2",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        handle.name,
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99 is not None, output
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99[2]]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: .*", output)
    problems = ", ".join(
        text
        for text in (errors and f"non-2xx {errors[1]}", socket_errors and socket_errors[0])
        if text
    )
    count = re.search(r"(\d+) requests in", output)
    return Result(rate, float(p99[1]) * scale, problems, int(count[1]) if count else 0)


def contribution_body(rng: random.Random) -> str:
    from referential import samples

    notebook = samples.generate_carnet(rng, size="large")
    notebook.pop("personne")
    notebook.pop("territoire", None)
    notebook["observe_le"] = "__OBS__"
    notebook.setdefault("droits", {})["are"] = "__ARE__"
    notebook.setdefault("situation", {})["rqth"] = "__RQTH__"
    text = json.dumps(notebook, ensure_ascii=False)
    return text.replace('"__ARE__"', "__ARE__").replace('"__RQTH__"', "__RQTH__")


def register(url: str, database_url: str, type_acteur: str) -> dict[str, str]:
    """An organisation of ``type_acteur`` and a client: the headers of its requests."""
    from gateway.habilitation import load_matrix
    from gateway.organisations.service import create_client, create_organisation
    from gateway.storage.database import Database

    database = Database(database_url)
    with database.write() as session:
        organisation = create_organisation(
            session, nom=f"Banc d'essai {type_acteur}", type_acteur=type_acteur, territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="bench")
        agent = bench_agent(session, organisation.id, type_acteur)
    database.dispose()
    token = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.client.client_id, created.secret),
    ).json()["access_token"]
    purpose = load_matrix().actor(type_acteur).finalites[0]
    headers = {"Authorization": f"Bearer {token}", "Finalite": purpose}
    if agent is not None:
        headers["Agent"] = agent
    return headers


def bench_agent(session: Any, organisation_id: str, type_acteur: str) -> str | None:
    """An agent of the organisation habilitated for what the matrix reserves to the referent
    (the benches' notebooks hold health data), or None for a kind that reserves nothing."""
    from gateway.agents.service import reserve_agent

    return reserve_agent(
        session, organisation_id, type_acteur, nom="Agent du banc", courriel="agent@banc.example"
    )


def prepare_gateway(
    url: str, database_url: str, size: str = "normal"
) -> tuple[dict[str, str], list[str], int]:
    """Register a département and a client, create the notebooks of ``size``: its headers,
    their ids and the average size of their views."""
    from referential import samples

    headers = register(url, database_url, "departement")
    rng = random.Random(1)
    ids = []
    view_bytes = 0
    for _ in range(NOTEBOOKS):
        notebook = samples.generate_carnet(rng, size=size)
        notebook["territoire"] = "26"
        response = httpx.post(url + "/v1/carnets", json=notebook, headers=headers, timeout=30)
        response.raise_for_status()
        ids.append(response.json()["id"])
        view_bytes += len(httpx.get(f"{url}/v1/carnets/{ids[-1]}", headers=headers).content)
    return headers, ids, view_bytes // NOTEBOOKS


def versions(url: str, headers: dict[str, str], ids: list[str]) -> int:
    """The sum of the notebooks' versions: how many writes changed them so far."""
    total = 0
    for carnet_id in ids:
        response = httpx.get(f"{url}/v1/carnets/{carnet_id}", headers=headers)
        response.raise_for_status()
        total += int(response.json()["version"])
    return total


def median(results: list[Result]) -> Result:
    """The run of median throughput."""
    ordered = sorted(results, key=lambda result: result.requests_per_second)
    return ordered[len(ordered) // 2]


def link_all(url: str, database_url: str, headers: dict[str, str], ids: list[str]) -> None:
    """Bring the notebooks into the need to know of ``headers``' organisation (as a membership
    of its follow-up group would), without changing them."""
    from gateway.storage import followup as repository
    from gateway.storage.database import Database

    me = httpx.get(url + "/v1/carnets", headers=headers).status_code
    assert me == 200, me
    organisation = _organisation_of(headers)
    database = Database(database_url)
    with database.write() as session:
        for carnet_id in ids:
            repository.add_member(
                session,
                carnet_id=carnet_id,
                organisation_id=organisation,
                role=repository.MEMBER,
                base=repository.TERRITORIAL,
                at=datetime.now(UTC),
                client_id=None,
            )
    database.dispose()


def _organisation_of(headers: dict[str, str]) -> str:
    """The organisation named by a token's claims (read without verifying: our own token)."""
    payload = headers["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["organisation"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--profile", type=Path, help="record the gateway's stacks with py-spy into this file"
    )
    parser.add_argument(
        "--only", choices=("write", "read"), help="measure only the writes or only the reads"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="carnet-bench-"))
    if args.database == "sqlite":
        database_url = f"sqlite:///{workdir / 'carnet.db'}"
        drop = None
    else:
        from sqlalchemy import create_engine, text

        name = f"carnet_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    from gateway.storage.database import Database

    Database(database_url).migrate()
    body = contribution_body(random.Random(7))
    env = {"CARNET_DATABASE_URL": database_url, "CARNET_ENVIRONMENT": "test", "SEED": "7"}
    results: dict[str, Result] = {}
    turns: dict[str, list[float]] = {}
    view_size = bare_size = changed = 0
    try:
        # Both apps up at once and loaded in turns: the load of a shared machine drifts over a
        # run, and each turn's ratio compares two measures taken seconds apart.
        with (
            server("gateway.asgi:app", env, args.profile) as url,
            server("bench.bare_app:app", env) as bare_url,
        ):
            headers, ids, _ = prepare_gateway(url, database_url)
            if args.only != "read":
                changed = measure_writes(url, bare_url, headers, ids, body, args.seconds, results)
                turns["write"] = ratios("write", "parse")
            if args.only != "write":
                bare_size = len(httpx.get(bare_url + "/notebook").content)
                view_size = measure_reads(url, bare_url, database_url, env, args.seconds, results)
                turns["read"] = ratios("read", "return")
                turns["read_dep"] = ratios("read", "plain")
                turns["read_caf"] = ratios("read_caf", "plain")
    finally:
        if drop is not None:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, results, turns, len(body.encode()), view_size, bare_size, changed)


#: The runs of every turn, by path (filled by the measures, summed up by :func:`median`), and
#: the warm-up run of each path.
RUNS: dict[str, list[Result]] = {}
WARM_UPS: dict[str, Result] = {}


def ratios(path: str, baseline: str) -> list[float]:
    """The ratio of ``path`` to ``baseline`` in each turn, sorted."""
    pairs = zip(RUNS[path], RUNS[baseline], strict=True)
    return sorted(run.requests_per_second / base.requests_per_second for run, base in pairs)


#: What wrk loads: url, script (or what makes a new script for each run), headers.
Target = tuple[str, str | Callable[[], str], dict[str, str]]


def in_turns(targets: dict[str, Target], seconds: int, results: dict[str, Result]) -> None:
    """Each target warmed up, then loaded once per turn, in turns; the run of median
    throughput of each kept in ``results``, every run in :data:`RUNS`."""

    def load(target: Target, seconds: int) -> Result:
        url, script, headers = target
        return wrk(url, script if isinstance(script, str) else script(), seconds, headers)

    for name, target in targets.items():
        WARM_UPS[name] = load(target, 2)
        RUNS[name] = []
    for _ in range(ROUNDS):
        for name, target in targets.items():
            RUNS[name].append(load(target, seconds))
    for name in targets:
        results[name] = median(RUNS[name])


def measure_writes(
    url: str,
    bare_url: str,
    headers: dict[str, str],
    ids: list[str],
    body: str,
    seconds: int,
    results: dict[str, Result],
) -> int:
    """Contribution writes and bare parses, in turns: how many new versions the writes made."""
    auth = headers | {"Content-Type": "application/json"}
    quoted = ", ".join(f'"{i}"' for i in ids)
    parse_body = body.replace("__OBS__", "2026-01-01T00:00:00Z")
    parse_body = parse_body.replace("__ARE__", "true").replace("__RQTH__", "true")
    post = STATIC_POST_SCRIPT % {"body": parse_body}

    def write() -> str:
        # Each run observes from its own start: later than anything stored before it.
        return WRITE_SCRIPT % {"ids": quoted, "body": body, "base": time.time()}

    before = versions(url, headers, ids)
    targets: dict[str, Target] = {
        "write": (url, write, auth),
        "parse": (bare_url + "/parse", post, {}),
    }
    in_turns(targets, seconds, results)
    return versions(url, headers, ids) - before


def measure_reads(
    url: str,
    bare_url: str,
    database_url: str,
    env: dict[str, str],
    seconds: int,
    results: dict[str, Result],
) -> int:
    """The reads of a département and of a CAF, the plain read and the bare return, in turns:
    the average size of the views read."""
    # Reads: notebooks whose consolidated view weighs about 10 KB, like the baseline's.
    reader, read_ids, view_size = prepare_gateway(url, database_url, size="small")
    read = READ_SCRIPT % {"ids": ", ".join(f'"{i}"' for i in read_ids)}
    # A CAF linked to the same notebooks reads them projected (droits only).
    caf = register(url, database_url, "caf_msa")
    link_all(url, database_url, caf, read_ids)
    with server("bench.plain_read_app:app", env) as plain_url:
        targets: dict[str, Target] = {
            "read": (url, read, reader),
            "return": (bare_url + "/notebook", "", {}),
            "read_caf": (url, read, caf),
            "plain": (plain_url, read, reader),
        }
        in_turns(targets, seconds, results)
    return view_size


def report(
    args: argparse.Namespace,
    results: dict[str, Result],
    turns: dict[str, list[float]],
    body_size: int,
    view_size: int,
    bare_size: int,
    changed: int,
) -> None:
    print(
        f"database: {args.database}; one uvicorn worker each; wrk -t2 -c{CONNECTIONS} -d{args.seconds}s"
        f" per run; {ROUNDS} turns, each path once per turn (req/s and p99: the median run;"
        " ratios: the median of the turns')"
    )
    print(
        f"contribution body: {body_size} bytes; notebook view read: {view_size} bytes; "
        f"bare notebook returned: {bare_size} bytes; {NOTEBOOKS} notebooks each"
    )
    print(f"{'path':<34}{'req/s':>10}{'p99 ms':>10}  notes")
    labels = {
        "write": "gateway contribution write",
        "parse": "bare parse (model_validate_json)",
        "read": "gateway notebook read",
        "return": "bare return (10 KB in memory)",
        "read_caf": "gateway read, CAF (projected)",
        "plain": "plain read (core issue)",
    }
    for key, label in labels.items():
        if key in results:
            result = results[key]
            rate, p99 = result.requests_per_second, result.p99_ms
            print(f"{label:<34}{rate:>10.0f}{p99:>10.1f}  {result.errors}")
    if "write" in turns:
        print(f"write / bare parse  = {_ratio(turns['write'])}  (target ≥ 0.25)")
        answers = sum(run.requests for run in [WARM_UPS["write"], *RUNS["write"]])
        print(
            f"new versions: {changed} for {answers} answers counted by wrk (warm-up included)"
            " (fewer: some came after a later observation of the same values; more: the"
            " requests in flight when wrk stopped were applied too)"
        )
    if "read" in turns:
        print(f"read / bare return  = {_ratio(turns['read'])}  (target ≥ 0.50)")
        print(f"read p99 = {results['read'].p99_ms:.1f} ms  (target < 50 ms)")
        print(
            f"read with habilitation / plain read = {_ratio(turns['read_dep'])} (département),"
            f" {_ratio(turns['read_caf'])} (CAF)  (target ≥ 0.70)"
        )


def _ratio(values: list[float]) -> str:
    """The median of the turns' ratios, and the turns'."""
    each = ", ".join(f"{value:.2f}" for value in values)
    return f"{values[len(values) // 2]:.2f} (turns: {each})"


if __name__ == "__main__":
    main()
