"""Timing of the identification failures: does the time of a 409 tell which failure it was?

Every failure to designate one notebook of the caller's territories gets one answer (409
``identification_impossible``, docs/besoin-d-en-connaitre.md): a NIR known in another
territory, a NIR known with another birth date, several homonym candidates. Their latency must
not tell them apart either. The gateway app is called in process through ASGI (no server, no
socket), on SQLite in a temporary folder (``--database postgresql``: a scratch database on the
local PostgreSQL, dropped at the end), by a France Travail organisation (it may send NIRs).

Thousands of notebooks of made-up persons are seeded first (``--filler`` of them in two
territories, then the persons of each case); then, over ``--persons`` distinct persons per case,
one identification of each case is sent in a shuffled order per round, so that the cases are
measured side by side under the same load. An unknown person of the caller's territory, created
(201), is measured for contrast. The throttle of failed identifications is raised so that it
never answers 429. Prints, per case, the median and p90 latency and the median relative to the
first failure case: ratios near 1.0 among the failures mean no timing oracle.

    uv run python bench/oracle.py [--persons 1000] [--filler 2000] [--database postgresql]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/http.py would shadow
# the standard library's package: start from the project root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from bench.inprocess import HOST, Caller
from gateway.app import create_app
from gateway.habilitation import load_matrix
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.storage.database import Database
from referential import nir_key

TERRITORY, ELSEWHERE = "26", "27"
#: The failure cases first (the first one is the reference of the ratios), then the contrast.
FAILURES = ("nir_autre_territoire", "nir_autre_date", "homonymes")
CREATED = "inconnu_cree"
CASES = (*FAILURES, CREATED)
EXPECTED = dict.fromkeys(FAILURES, 409) | {CREATED: 201}
WARM_UP = 20
#: The commune of birth of the second homonym's NIR (the persons' are 100 onwards).
TWINS_COMMUNE = "900"
SYLLABLES = (
    "ba",
    "co",
    "da",
    "fe",
    "gi",
    "lo",
    "ma",
    "ne",
    "pi",
    "ro",
    "sa",
    "tu",
    "va",
    "ber",
    "cha",
    "dor",
    "gan",
    "lin",
    "mor",
    "tal",
)
FIRST_NAMES = (
    "Alix",
    "Camille",
    "Dominique",
    "Eden",
    "Gaël",
    "Héloïse",
    "Inès",
    "Jules",
    "Léo",
    "Lou",
    "Maël",
    "Nour",
    "Noa",
    "Paz",
    "Robin",
    "Sacha",
    "Swann",
    "Yaël",
    "Zoé",
    "Éloi",
)


@dataclass(frozen=True, slots=True)
class Person:
    nom: str
    prenom: str
    date_naissance: str
    nir: str

    def body(self, **changes: Any) -> dict[str, Any]:
        personne = {
            "nom": self.nom,
            "prenom": self.prenom,
            "date_naissance": self.date_naissance,
            "nir": self.nir,
        } | changes
        return {k: v for k, v in personne.items() if v is not None}


class People:
    """Made-up persons, all distinct (names and NIRs derived from a counter; NIRs of persons
    born abroad, département 99, coherent with the birth date)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0

    def __call__(self) -> Person:
        n = self.count
        self.count += 1
        syllables, rest = [], n
        for _ in range(4):
            rest, digit = divmod(rest, len(SYLLABLES))
            syllables.append(SYLLABLES[digit])
        nom = "".join(syllables).capitalize()
        year, month = 1960 + n % 40, 1 + (n // 40) % 12
        order = 1 + (n // 480) % 999
        nir13 = f"{self.rng.choice('12')}{year % 100:02d}{month:02d}99{100 + n // 479520:03d}"
        nir13 += f"{order:03d}"
        day = self.rng.randint(1, 27)
        return Person(
            nom=nom,
            prenom=self.rng.choice(FIRST_NAMES),
            date_naissance=f"{year}-{month:02d}-{day:02d}",
            nir=f"{nir13}{nir_key(nir13):02d}",
        )


def notebook(personne: dict[str, Any], territoire: str | None = None) -> bytes:
    document: dict[str, Any] = {"personne": personne}
    if territoire is not None:
        document["territoire"] = territoire
    return orjson.dumps(document)


async def register(
    app: Any, database: Database, type_acteur: str, territoires: list[str]
) -> Caller:
    """An organisation of ``type_acteur``, its client, and a caller with its token."""
    with database.write() as session:
        organisation = create_organisation(
            session, nom=f"Banc {type_acteur}", type_acteur=type_acteur, territoires=territoires
        )
        created = create_client(session, organisation_id=organisation.id, nom="bench")
    form = f"grant_type=client_credentials&client_id={created.client.client_id}"
    form += f"&client_secret={created.secret}"
    status, body = await Caller(app, {"Content-Type": "application/x-www-form-urlencoded"})(
        "POST", "/oauth/token", form.encode()
    )
    assert status == 200, body
    return Caller(
        app,
        {
            "Authorization": f"Bearer {orjson.loads(body)['access_token']}",
            "Finalite": load_matrix().actor(type_acteur).finalites[0],
            "Content-Type": "application/json",
        },
    )


async def create(caller: Caller, body: bytes) -> None:
    status, answer = await caller("POST", "/v1/carnets", body)
    assert status == 201, answer


def other_day(date: str) -> str:
    """Another birth date of the same month (the NIR tells the year and the month only)."""
    day = int(date[-2:])
    return f"{date[:-2]}{day % 27 + 1:02d}"


async def seed(
    here: Caller, there: Caller, people: People, persons: int, filler: int
) -> dict[str, list[bytes]]:
    """Seed the notebooks; the identifications France Travail will send, per case."""
    for n in range(filler):
        person = people()
        if n % 2:
            await create(there, notebook(person.body(), ELSEWHERE))
        else:
            await create(here, notebook(person.body(nir=None if n % 4 else person.nir)))
    sent: dict[str, list[bytes]] = {case: [] for case in CASES}
    for _ in range(persons):
        person = people()
        await create(there, notebook(person.body(), ELSEWHERE))
        sent["nir_autre_territoire"].append(notebook(person.body()))

        person = people()
        await create(here, notebook(person.body()))
        sent["nir_autre_date"].append(
            notebook(person.body(date_naissance=other_day(person.date_naissance)))
        )

        person = people()
        await create(here, notebook(person.body()))
        # The same name, first name and birth date, another person (another NIR).
        nir13 = person.nir[:7] + TWINS_COMMUNE + person.nir[10:13]
        await create(here, notebook(person.body(nir=f"{nir13}{nir_key(nir13):02d}")))
        sent["homonymes"].append(notebook(person.body(nir=None)))

        sent[CREATED].append(notebook(people().body()))
    return sent


async def measure(
    caller: Caller, sent: dict[str, list[bytes]], rng: random.Random
) -> dict[str, list[float]]:
    """One identification of each case per round, in a shuffled order; milliseconds."""
    timings: dict[str, list[float]] = {case: [] for case in CASES}
    unexpected: dict[str, int] = {}
    rounds = len(sent[CREATED])
    for n in range(rounds):
        order = list(CASES)
        rng.shuffle(order)
        for case in order:
            body = sent[case][n]
            start = time.perf_counter()
            status, answer = await caller("POST", "/v1/carnets", body)
            elapsed = (time.perf_counter() - start) * 1000
            if status != EXPECTED[case]:
                key = f"{case}: {status} {answer[:80]!r}"
                unexpected[key] = unexpected.get(key, 0) + 1
            if n >= WARM_UP or rounds <= WARM_UP:
                timings[case].append(elapsed)
    if unexpected:
        sys.exit(f"unexpected answers: {unexpected}")
    return timings


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def report(timings: dict[str, list[float]], database: str, persons: int, filler: int) -> None:
    reference = statistics.median(timings[FAILURES[0]])
    print(
        f"POST /v1/carnets by France Travail, {database}: {persons} persons per case "
        f"({len(timings[FAILURES[0]])} measured), {filler + 4 * persons} notebooks seeded"
    )
    print(f"{'case':24s} {'answer':>6s} {'median ms':>10s} {'p90 ms':>8s} {'median ×':>9s}")
    for case in CASES:
        median = statistics.median(timings[case])
        print(
            f"{case:24s} {EXPECTED[case]:>6d} {median:>10.2f} {p90(timings[case]):>8.2f}"
            f" {median / reference:>9.2f}"
        )
    failures = [statistics.median(timings[case]) for case in FAILURES]
    print(
        f"spread of the failures' medians: {max(failures) / min(failures):.2f}× "
        "(near 1.0: no timing oracle among the failures)"
    )


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="carnet-oracle-"))
        yield f"sqlite:///{folder / 'carnet.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"carnet_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def run(args: argparse.Namespace, url: str) -> None:
    database = Database(url)
    database.migrate()
    settings = Settings(
        environment="test",
        issuer=f"http://{HOST}",
        # Every failure is measured: the throttle would answer 429 after 20.
        identification_echecs_max=10 * (args.persons + WARM_UP) * len(CASES),
    )
    app = create_app(settings, database=database)
    try:
        async with app.router.lifespan_context(app):
            here = await register(app, database, "departement", [TERRITORY])
            there = await register(app, database, "departement", [ELSEWHERE])
            france_travail = await register(app, database, "france_travail", [TERRITORY])
            start = time.perf_counter()
            sent = await seed(here, there, People(args.seed), args.persons, args.filler)
            seeded = time.perf_counter() - start
            print(f"seeded in {seeded:.0f} s", file=sys.stderr)
            timings = await measure(france_travail, sent, random.Random(args.seed))
    finally:
        database.dispose()
    report(timings, args.database, args.persons, args.filler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1000, help="distinct persons per case")
    parser.add_argument("--filler", type=int, default=2000, help="other notebooks seeded first")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    with scratch_database(args.database) as url:
        asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
