"""Validation throughput: the runtime path against jsonschema and jsonschema-rs, side by side.

Generates the same made-up large notebooks every run (fixed seed), about 10 % of them mutated so
that the error path is exercised, serialises them to JSON bytes once, then measures:

(a) the runtime path of the validation API and of ``carnet validate``,
    ``default_validator().check("carnet", body)`` (every error, with pointers and French
    messages), and for information the write path's ``validate`` (the same findings, and the
    typed value);
(b) ``jsonschema``'s ``Draft202012Validator`` with the format checker, collecting every error of
    ``iter_errors`` on ``json.loads(body)``;
(c) ``jsonschema_rs.validator_for(schema, validate_formats=True)``, collecting every error of
    ``iter_errors`` on ``orjson.loads(body)``.

Every timing includes parsing the JSON body and is CPU time (the machine may be shared).
``jsonschema`` is slow, so it runs on a subset.

Then a batch of ``--batch-lines`` lines (100,000 by default) of the same notebooks, as NDJSON,
validated all errors collected:

(d) through the API, ``POST /v1/validation/carnet`` (``application/x-ndjson``, streamed in 64 KB
    chunks) to the gateway served by uvicorn in a subprocess (anonymous validation opened by its
    settings), from the first byte sent to the grouped report received; the server's peak
    resident memory is read from ``/proc`` (target under 200 MB for the 100,000-line batch);
(e) through the CLI, ``carnet validate --groupes --json`` in a subprocess (start-up included),
    with its peak resident memory;
(f) ``jsonschema`` on the first ``--jsonschema-count`` lines of the same file, every error of
    ``iter_errors`` on ``json.loads(line)``.

The batch cycles through the notebooks generated above (no result is cached by the engine, so
repeating a notebook flatters nothing but the generation time).

    uv run python bench/validate.py [--count N] [--jsonschema-count N] [--batch-lines N] [--profile]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/http.py would shadow
# the standard library's package (httpx needs it): start from the project root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator

import referential
from referential import samples

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "openapi" / "schemas" / "2026.1" / "carnet.json"
SEED = 20260101
TARGET = 40.0
MEMORY_TARGET_MB = 200.0
CHUNK = 1 << 16


# -- the notebooks -------------------------------------------------------------------------------


def _mutate(rng: random.Random, carnet: dict[str, Any]) -> None:
    """One to three mistakes a partner could make; some only the runtime can see."""

    def unknown_code(c: dict[str, Any]) -> None:
        # A typo of a real code, varied so that no cache of suggestions can flatter the figures.
        situation = rng.choice(c["diagnostic"]["situations"])
        code = situation["code"]
        cut = rng.randrange(len(code))
        typos = (code[:cut] + code[cut + 1 :], code.replace("_", "-"), code + "s", code.upper())
        known = referential.current_referential().codes("situations")
        situation["code"] = rng.choice([t for t in typos if t not in known])

    def bad_date(c: dict[str, Any]) -> None:
        c["personne"]["date_naissance"] = rng.choice(("1990-02-30", "15/04/1990", "20240101"))

    def nir_key(c: dict[str, Any]) -> None:
        nir13 = c["personne"]["nir"][:13]
        c["personne"]["nir"] = f"{nir13}{referential.nir_key(nir13) % 97 + 1:02d}"

    def siret_luhn(c: dict[str, Any]) -> None:
        organisation = c["accompagnement"]["groupe_suivi"][0]["organisation"]
        siret = organisation.get("siret") or samples.made_up_siret(rng)
        organisation["siret"] = siret[:13] + str((int(siret[13]) + 1) % 10)

    def extra_field(c: dict[str, Any]) -> None:
        c["coordonnees"]["fax"] = "01 23 45 67 89"

    def wrong_type(c: dict[str, Any]) -> None:
        c["situation"]["rqth"] = "oui"

    def missing_required(c: dict[str, Any]) -> None:
        del c["personne"]["nom"]

    def bad_phone(c: dict[str, Any]) -> None:
        c["coordonnees"]["telephones"][0] = "06 12 34 56"

    def bad_postal_code(c: dict[str, Any]) -> None:
        c["coordonnees"]["adresse"]["code_postal"] = "00123"

    def period(c: dict[str, Any]) -> None:
        c["contrat"]["date_fin"] = "2000-01-01"

    mutations: list[Callable[[dict[str, Any]], None]] = [
        unknown_code,
        bad_date,
        nir_key,
        siret_luhn,
        extra_field,
        wrong_type,
        missing_required,
        bad_phone,
        bad_postal_code,
        period,
    ]
    for mutation in rng.sample(mutations, rng.randint(1, 3)):
        mutation(carnet)


@dataclass(frozen=True, slots=True)
class Corpus:
    bodies: list[bytes]
    invalid: list[bool]

    def subset(self, count: int) -> Corpus:
        return Corpus(self.bodies[:count], self.invalid[:count])

    @property
    def invalid_count(self) -> int:
        return sum(self.invalid)


def build_corpus(count: int, invalid_share: float, size: str) -> Corpus:
    rng = random.Random(SEED)
    bodies: list[bytes] = []
    invalid: list[bool] = []
    for index in range(count):
        carnet = samples.generate_carnet(rng, size=size)
        # Spread the invalid notebooks evenly, so that any prefix keeps the same share.
        mutated = int((index + 1) * invalid_share) > int(index * invalid_share)
        if mutated:
            _mutate(rng, carnet)
        bodies.append(orjson.dumps(carnet))
        invalid.append(mutated)
    return Corpus(bodies, invalid)


# -- the validators ------------------------------------------------------------------------------

#: body → number of errors found (0 when valid).
Check = Callable[[bytes], int]


def runtime_check(method: str = "check") -> Check:
    """``check`` (the validation API's and the CLI's path) or ``validate`` (the write path's)."""
    run = getattr(referential.default_validator(), method)

    def check(body: bytes) -> int:
        return len(run("carnet", body).errors)

    return check


def jsonschema_check(schema: dict[str, Any]) -> Check:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def check(body: bytes) -> int:
        return len(list(validator.iter_errors(json.loads(body))))

    return check


def jsonschema_rs_check(schema: dict[str, Any]) -> Check:
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)

    def check(body: bytes) -> int:
        return len(list(validator.iter_errors(orjson.loads(body))))

    return check


@dataclass(frozen=True, slots=True)
class Measure:
    name: str
    count: int
    seconds_valid: float
    seconds_invalid: float
    count_invalid: int
    refused: int
    errors: int

    @property
    def rate(self) -> float:
        return self.count / (self.seconds_valid + self.seconds_invalid)

    @property
    def rate_valid(self) -> float:
        valid = self.count - self.count_invalid
        return valid / self.seconds_valid if self.seconds_valid else float("nan")

    @property
    def rate_invalid(self) -> float:
        return self.count_invalid / self.seconds_invalid if self.seconds_invalid else float("nan")


def measure(name: str, check: Check, corpus: Corpus, rounds: int) -> Measure:
    """The best of ``rounds`` passes over the corpus, valid and mutated notebooks timed apart,
    in CPU time of this process (the machine's other users are left out, as in the batch)."""
    for body in corpus.bodies[:20]:  # warm-up: caches, lazily built validators
        check(body)
    best = {False: float("inf"), True: float("inf")}
    refused = errors = 0
    for _ in range(rounds):
        seconds = {False: 0.0, True: 0.0}
        refused = errors = 0
        gc.collect()
        for body, invalid in zip(corpus.bodies, corpus.invalid, strict=True):
            start = time.process_time()
            found = check(body)
            seconds[invalid] += time.process_time() - start
            refused += found > 0
            errors += found
        best = {key: min(best[key], seconds[key]) for key in best}
    return Measure(
        name=name,
        count=len(corpus.bodies),
        seconds_valid=best[False],
        seconds_invalid=best[True],
        count_invalid=corpus.invalid_count,
        refused=refused,
        errors=errors,
    )


def profile(corpus: Corpus, top: int) -> None:
    """Where the runtime path spends its time, valid and mutated notebooks apart."""
    validator = referential.default_validator()
    for label, wanted in (("valid", False), ("mutated", True)):
        bodies = [
            b for b, invalid in zip(corpus.bodies, corpus.invalid, strict=True) if invalid == wanted
        ]
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies[:2_000]:
            validator.check("carnet", body)
        profiler.disable()
        print(f"\n-- profile of the runtime path, {min(len(bodies), 2_000):,} {label} notebooks --")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


# -- the batch ---------------------------------------------------------------------------------


def write_batch(corpus: Corpus, lines: int, path: Path) -> int:
    """``lines`` lines cycling through the corpus; the number of mutated lines."""
    mutated = 0
    with path.open("wb") as handle:
        for index in range(lines):
            position = index % len(corpus.bodies)
            handle.write(corpus.bodies[position] + b"\n")
            mutated += corpus.invalid[position]
    return mutated


def serve(port: int, database: str) -> None:
    """The gateway on ``port``, anonymous validation open (run in a subprocess)."""
    import uvicorn

    from gateway.app import create_app
    from gateway.settings import Settings
    from gateway.storage.database import Database

    settings = Settings(
        database_url=f"sqlite:///{database}",
        validation_anonymous_per_minute=600,
        validation_anonymous_max_lines=10_000_000,
    )
    store = Database(settings.database_url)
    store.migrate()
    uvicorn.run(
        create_app(settings, database=store),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="asyncio",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _memory_mb(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of a live process, in MB (nan if gone)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) / 1024 if found else float("nan")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@dataclass(frozen=True, slots=True)
class BatchRun:
    name: str
    lines: int
    seconds: float
    cpu_seconds: float
    report: dict[str, Any]
    peak_mb: float = float("nan")
    rest_mb: float = float("nan")

    @property
    def rate(self) -> float:
        return self.lines / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.lines / self.cpu_seconds


def api_batch(path: Path, lines: int) -> BatchRun:
    """The batch through POST /v1/validation/carnet, to a uvicorn subprocess."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as directory:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), str(Path(directory) / "c.db")]
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=None) as client:
                for _ in range(300):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                else:
                    raise RuntimeError("the gateway did not start")
                warm = client.post("/v1/validation/carnet", content=path.read_bytes()[:CHUNK])
                warm.raise_for_status()
                rest = _memory_mb(server.pid, "VmRSS")
                cpu = _cpu_seconds(server.pid)
                started = time.perf_counter()
                report = _upload(client, path, f"{base}/v1/validation/carnet")
                seconds = time.perf_counter() - started
                cpu = _cpu_seconds(server.pid) - cpu
            peak = _memory_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return BatchRun("API POST /v1/validation", lines, seconds, cpu, report, peak, rest)


def _upload(client: httpx.Client, path: Path, url: str) -> dict[str, Any]:
    """The batch streamed to ``url``: with curl when there is one (it leaves the CPU to the
    server), otherwise with httpx in 64 KB chunks."""
    media = "application/x-ndjson"
    if shutil.which("curl"):
        command = ["curl", "-sS", "--fail", "-X", "POST", "-T", str(path), url]
        command += ["-H", f"Content-Type: {media}"]
        done = subprocess.run(command, capture_output=True, check=True)
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer
    response = client.post(url, content=_chunks(path), headers={"Content-Type": media})
    response.raise_for_status()
    answer = response.json()
    return answer


def cli_batch(path: Path, lines: int) -> BatchRun:
    """The batch through ``carnet validate --groupes --json`` (start-up included)."""
    command = [sys.executable, "-m", "gateway.cli", "validate", str(path), "-k", "carnet"]
    started = time.perf_counter()
    process = subprocess.Popen([*command, "--groupes", "--json"], stdout=subprocess.PIPE)
    # Peak resident memory of the command itself, read from /proc while it runs (its resource
    # usage as a child would also count this process's memory, shared until its exec).
    peaks: list[float] = []
    watcher = threading.Thread(target=_watch, args=(process.pid, peaks), daemon=True)
    watcher.start()
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    watcher.join()
    cpu = usage.ru_utime + usage.ru_stime
    peak = max(peaks, default=float("nan"))
    return BatchRun("CLI carnet validate", lines, seconds, cpu, json.loads(output), peak)


def _watch(pid: int, peaks: list[float]) -> None:
    while True:
        try:
            peak = _memory_mb(pid, "VmHWM")
        except OSError:
            return
        if peak != peak:  # an exited process (zombie) has no memory left
            return
        peaks.append(peak)
        time.sleep(0.05)


def jsonschema_batch(path: Path, count: int, schema: dict[str, Any]) -> BatchRun:
    """The first ``count`` lines with jsonschema, every error collected."""
    check = jsonschema_check(schema)
    with path.open("rb") as handle:
        bodies = [line for _, line in zip(range(count), handle, strict=False)]
    check(bodies[0])
    started, cpu = time.perf_counter(), time.process_time()
    refused = errors = 0
    for body in bodies:
        found = check(body)
        refused += found > 0
        errors += found
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    report = {"lignes_invalides": refused, "nombre_erreurs": errors}
    return BatchRun("jsonschema (python)", len(bodies), seconds, cpu, report)


def batch(corpus: Corpus, lines: int, jsonschema_count: int, schema: dict[str, Any]) -> bool:
    """Measure the batch paths side by side; whether the targets are met."""
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as directory:
        path = Path(directory) / "lot.ndjson"
        mutated = write_batch(corpus, lines, path)
        size = path.stat().st_size
        print(
            f"\nbatch: {lines:,} lines (NDJSON, {size / 1e6:,.0f} MB, {mutated:,} mutated), "
            "all errors collected"
        )
        python = jsonschema_batch(path, jsonschema_count, schema)
        api = api_batch(path, lines)
        cli = cli_batch(path, lines)
        python_after = jsonschema_batch(path, jsonschema_count, schema)
    # jsonschema runs before and after the other two: its best run is the reference.
    python = min(python, python_after, key=lambda r: r.cpu_seconds)
    runs = [api, cli, python]
    print(
        f"{'path':<26}{'lines':>8}{'wall s':>8}{'lines/s':>9}{'×':>7}"
        f"{'CPU s':>8}{'lines/CPU s':>12}{'×':>7}{'refused':>9}{'peak MB':>9}"
    )
    for run in runs:
        print(
            f"{run.name:<26}{run.lines:>8,}{run.seconds:>8.1f}{run.rate:>9,.0f}"
            f"{run.rate / python.rate:>6.1f}×{run.cpu_seconds:>8.1f}{run.cpu_rate:>12,.0f}"
            f"{run.cpu_rate / python.cpu_rate:>6.1f}×{run.report['lignes_invalides']:>9,}"
            f"{run.peak_mb:>9.0f}"
        )
    for run in (api, cli):
        if run.report["lignes_invalides"] != mutated or run.report["nombre_lignes"] != lines:
            print(f"note: {run.name} counted {run.report['lignes_invalides']:,} invalid lines")
    print(
        f"the API's CPU time is the server's (the upload by {'curl' if shutil.which('curl') else 'httpx'} "
        f"is not counted); the CLI's includes its start-up. API server at rest before the "
        f"batch: {api.rest_mb:.0f} MB resident."
    )
    wall = min(api.rate, cli.rate) / python.rate
    cpu = min(api.cpu_rate, cli.cpu_rate) / python.cpu_rate
    print(
        f"target API and CLI ≥ {TARGET:.0f}× jsonschema: {'met' if cpu >= TARGET else 'NOT met'} "
        f"in CPU time ({cpu:.1f}×), {'met' if wall >= TARGET else 'NOT met'} in wall time "
        f"({wall:.1f}×, the machine's load included)"
    )
    small = api.peak_mb < MEMORY_TARGET_MB
    print(
        f"target peak memory of the server for the {lines:,}-line batch < "
        f"{MEMORY_TARGET_MB:.0f} MB: {'met' if small else 'NOT met'} ({api.peak_mb:.0f} MB; "
        f"CLI {cli.peak_mb:.0f} MB)"
    )
    return cpu >= TARGET and small


# -- the report ------------------------------------------------------------------------------------


def _row(m: Measure) -> str:
    return (
        f"{m.name:<28}{m.count:>9,}{m.rate:>11,.0f}{m.rate_valid:>11,.0f}{m.rate_invalid:>11,.0f}"
        f"{m.refused:>9,}{m.errors:>9,}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000, help="notebooks (default 10,000)")
    parser.add_argument(
        "--jsonschema-count",
        type=int,
        default=500,
        help="notebooks for the (slow) python jsonschema run (default 500)",
    )
    parser.add_argument("--invalid-share", type=float, default=0.1, help="default 0.1")
    parser.add_argument("--size", choices=samples.SIZES, default="large")
    parser.add_argument("--rounds", type=int, default=3, help="best of N passes (default 3)")
    parser.add_argument(
        "--profile", action="store_true", help="then profile the runtime path (cProfile)"
    )
    parser.add_argument(
        "--batch-lines",
        type=int,
        default=100_000,
        help="lines of the NDJSON batch through the API and the CLI (default 100,000; 0: none)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0

    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    started = time.perf_counter()
    corpus = build_corpus(args.count, args.invalid_share, args.size)
    generated = time.perf_counter() - started
    subset = corpus.subset(min(args.jsonschema_count, args.count))

    average = statistics.mean(len(b) for b in corpus.bodies)
    print(
        f"{args.count:,} {args.size} notebooks (seed {SEED}), "
        f"{corpus.invalid_count:,} of them mutated ({args.invalid_share:.0%}); "
        f"average body {average:,.0f} bytes; generated in {generated:.1f} s."
    )
    print(
        f"jsonschema (python) runs on a subset: the first {len(subset.bodies):,} notebooks "
        f"({subset.invalid_count:,} mutated). Timings (CPU) include parsing the JSON body; "
        f"best of {args.rounds} passes."
    )
    print()

    rounds = args.rounds
    runtime = measure("runtime check()", runtime_check(), corpus, rounds)
    runtime_subset = measure("runtime check(), same subset", runtime_check(), subset, rounds)
    typed = measure("write path validate()", runtime_check("validate"), corpus, rounds)
    python = measure("jsonschema (python)", jsonschema_check(schema), subset, rounds)
    rust = measure("jsonschema-rs", jsonschema_rs_check(schema), corpus, rounds)

    print(
        f"{'validator':<28}{'payloads':>9}{'all/s':>11}{'valid/s':>11}{'mutated/s':>11}"
        f"{'refused':>9}{'errors':>9}"
    )
    for m in (runtime, runtime_subset, typed, python, rust):
        print(_row(m))
    print()
    ratio_python = runtime.rate / python.rate
    ratio_subset = runtime_subset.rate / python.rate
    ratio_rust = runtime.rate / rust.rate
    print(f"runtime / jsonschema    : {ratio_python:6.1f}×  (same subset: {ratio_subset:.1f}×)")
    print(f"runtime / jsonschema-rs : {ratio_rust:6.2f}×")
    print(
        f"write path / jsonschema : {typed.rate / python.rate:6.1f}×  (validate(), which also "
        "builds the typed value)"
    )
    met = min(ratio_python, ratio_subset) >= TARGET
    print(f"target runtime ≥ {TARGET:.0f}× jsonschema: {'met' if met else 'NOT met'}")
    if runtime.refused != rust.refused:
        print(
            f"note: the runtime refused {runtime.refused:,} notebooks, jsonschema-rs "
            f"{rust.refused:,} (NIR key, SIRET Luhn and periods are runtime-only checks)."
        )
    if args.batch_lines:
        batch(corpus, args.batch_lines, args.jsonschema_count, schema)
    if args.profile:
        profile(corpus, top=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
