"""Validation throughput: the runtime path against jsonschema and jsonschema-rs, side by side.

Generates the same made-up large notebooks every run (fixed seed), about 10 % of them mutated so
that the error path is exercised, serialises them to JSON bytes once, then measures:

(a) the runtime path, ``default_validator().validate("carnet", body)`` (every error, with
    pointers and French messages);
(b) ``jsonschema``'s ``Draft202012Validator`` with the format checker, collecting every error of
    ``iter_errors`` on ``json.loads(body)``;
(c) ``jsonschema_rs.validator_for(schema, validate_formats=True)``, collecting every error of
    ``iter_errors`` on ``orjson.loads(body)``.

Every timing includes parsing the JSON body. ``jsonschema`` is slow, so it runs on a subset.

    uv run python bench/validate.py [--count N] [--jsonschema-count N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator

import referential
from referential import samples

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "openapi" / "schemas" / "2026.1" / "carnet.json"
SEED = 20260101
TARGET = 40.0


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


def runtime_check() -> Check:
    validator = referential.default_validator()

    def check(body: bytes) -> int:
        return len(validator.validate("carnet", body).errors)

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
    """The best of ``rounds`` passes over the corpus, valid and mutated notebooks timed apart."""
    for body in corpus.bodies[:20]:  # warm-up: caches, lazily built validators
        check(body)
    best = {False: float("inf"), True: float("inf")}
    refused = errors = 0
    for _ in range(rounds):
        seconds = {False: 0.0, True: 0.0}
        refused = errors = 0
        gc.collect()
        for body, invalid in zip(corpus.bodies, corpus.invalid, strict=True):
            start = time.perf_counter()
            found = check(body)
            seconds[invalid] += time.perf_counter() - start
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
            validator.validate("carnet", body)
        profiler.disable()
        print(f"\n-- profile of the runtime path, {min(len(bodies), 2_000):,} {label} notebooks --")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


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
    args = parser.parse_args(argv)

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
        f"({subset.invalid_count:,} mutated). Timings include parsing the JSON body; "
        f"best of {args.rounds} passes."
    )
    print()

    rounds = args.rounds
    runtime = measure("runtime validate()", runtime_check(), corpus, rounds)
    runtime_subset = measure("runtime, same subset", runtime_check(), subset, rounds)
    python = measure("jsonschema (python)", jsonschema_check(schema), subset, rounds)
    rust = measure("jsonschema-rs", jsonschema_rs_check(schema), corpus, rounds)

    print(
        f"{'validator':<28}{'payloads':>9}{'all/s':>11}{'valid/s':>11}{'mutated/s':>11}"
        f"{'refused':>9}{'errors':>9}"
    )
    for m in (runtime, runtime_subset, python, rust):
        print(_row(m))
    print()
    ratio_python = runtime.rate / python.rate
    ratio_subset = runtime_subset.rate / python.rate
    ratio_rust = runtime.rate / rust.rate
    print(f"runtime / jsonschema    : {ratio_python:6.1f}×  (same subset: {ratio_subset:.1f}×)")
    print(f"runtime / jsonschema-rs : {ratio_rust:6.2f}×")
    met = min(ratio_python, ratio_subset) >= TARGET
    print(f"target runtime ≥ {TARGET:.0f}× jsonschema: {'met' if met else 'NOT met'}")
    if runtime.refused != rust.refused:
        print(
            f"note: the runtime refused {runtime.refused:,} notebooks, jsonschema-rs "
            f"{rust.refused:,} (NIR key, SIRET Luhn and periods are runtime-only checks)."
        )
    if args.profile:
        profile(corpus, top=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
