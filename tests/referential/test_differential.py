"""Differential test: the runtime validator against the published JSON Schemas.

Thousands of made-up payloads (:mod:`referential.samples`, fixed seed), valid or mutated, go
through both ``default_validator().validate(kind, body)`` and ``jsonschema``'s Draft 2020-12
validator (formats checked) on the committed schema ``openapi/schemas/2026.1/<kind>.json``. The
verdicts must be equal, except for the checks the schema says it cannot express (NIR key, birth
date in the future or contradicting the NIR, SIRET Luhn key, period coherence, coded action XOR
free label, integers written with a decimal part): for those families the runtime must reject
with its own error code and the schema must accept.

Mutation targets are found by walking each payload together with its schema, never by listing
paths by hand. Known disagreements and bugs found on the way are pinned at the end of the file,
one minimal payload each (``xfail(strict=True)`` while the bug is open).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import referential
from referential import samples

SCHEMAS = Path(__file__).resolve().parents[2] / "openapi" / "schemas" / "2026.1"
SEED = 20260101
CASES = 2_400

Path_ = tuple[str | int, ...]


# -- schemas and validators --------------------------------------------------------------------


@cache
def schema(kind: str) -> dict[str, Any]:
    """The committed schema (tests/gateway/test_generated_files.py checks it is up to date)."""
    path = SCHEMAS / f"{kind}.json"
    assert path.exists(), f"{path} is missing: run `carnet schemas export`"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@cache
def jsonschema_validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema(kind), format_checker=Draft202012Validator.FORMAT_CHECKER)


def verdicts(kind: str, payload: Any) -> tuple[referential.Report, bool]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    report = referential.default_validator().validate(kind, body)
    return report, jsonschema_validator(kind).is_valid(json.loads(body))


def test_jsonschema_checks_date_and_date_time_formats():
    checker = Draft202012Validator.FORMAT_CHECKER
    assert checker.conforms("2024-02-29", "date")
    for bad in ("2024-02-30", "2024-13-01", "15/04/1990", "20240101"):
        assert not checker.conforms(bad, "date"), bad
    assert checker.conforms("2024-01-01T10:00:00+01:00", "date-time")
    for bad in ("2024-02-30T10:00:00Z", "2024-01-01T25:00:00Z", "2024-01-01T10:00:00"):
        assert not checker.conforms(bad, "date-time"), bad
    date_field = {"type": "string", "format": "date"}
    assert not Draft202012Validator(date_field, format_checker=checker).is_valid("2024-02-30")


# -- walking a payload with its schema ---------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One value of a payload, with the (resolved, non-null) schema that governs it."""

    path: Path_
    value: Any
    schema: dict[str, Any]
    types: frozenset[str]

    @property
    def name(self) -> str | None:
        """The property this value sits under (for list items, the list's property)."""
        return next((p for p in reversed(self.path) if isinstance(p, str)), None)


def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """The schema of the non-null branch and every JSON type the node accepts."""
    node = _deref(node, root)
    branches = [_deref(b, root) for b in node.get("anyOf", [node])]
    types = frozenset(b.get("type", "string") for b in branches)
    concrete = [b for b in branches if b.get("type") != "null"]
    assert len(concrete) == 1, node
    outer = {k: v for k, v in node.items() if k != "anyOf"}
    return {**outer, **concrete[0]}, types


def walk(payload: Any, root: dict[str, Any]) -> Iterator[Node]:
    def visit(value: Any, node: dict[str, Any], path: Path_) -> Iterator[Node]:
        resolved, types = _resolve(node, root)
        yield Node(path, value, resolved, types)
        properties = resolved.get("properties", {})
        if isinstance(value, dict):
            for key, item in value.items():
                if key in properties:  # unknown keys have no schema to walk
                    yield from visit(item, properties[key], (*path, key))
        elif isinstance(value, list) and "items" in resolved:
            for index, item in enumerate(value):
                yield from visit(item, resolved["items"], (*path, index))

    yield from visit(payload, root, ())


def set_at(payload: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    parent = payload
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return payload


def at(payload: Any, path: Path_) -> Any:
    for part in path:
        payload = payload[part]
    return payload


def json_pointer(path: Path_) -> str:
    return referential.pointer(path)


# -- mutations -------------------------------------------------------------------------------------

Mutation = Callable[[random.Random, Any, list[Node]], tuple[Any, str] | None]
"""(rng, payload copy, nodes) → (mutated payload, pointer of the mutation), or None if no target."""

_SAMPLE_OF_TYPE: dict[str, Any] = {
    "string": "texte",
    "number": 3.5,
    "integer": 7,
    "boolean": True,
    "null": None,
    "array": ["x"],
    "object": {"x": 1},
}


def _pick(rng: random.Random, nodes: list[Node], test: Callable[[Node], bool]) -> Node | None:
    found = [n for n in nodes if test(n)]
    return rng.choice(found) if found else None


def _is_string(node: Node) -> bool:
    return isinstance(node.value, str)


def _named(*names: str) -> Callable[[Node], bool]:
    return lambda node: _is_string(node) and node.name in names


def _replace_with(values: tuple[str, ...], test: Callable[[Node], bool]) -> Mutation:
    def mutate(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
        node = _pick(rng, nodes, test)
        if node is None:
            return None
        return set_at(payload, node.path, rng.choice(values)), json_pointer(node.path)

    return mutate


@cache
def _all_codes() -> tuple[str, ...]:
    ref = referential.current_referential()
    return tuple(sorted({code for liste in ref.lists for code in ref.codes(liste)}))


def wrong_code(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    node = _pick(rng, nodes, lambda n: _is_string(n) and "enum" in n.schema)
    if node is None:
        return None
    enum = set(node.schema["enum"])
    choices = [c for c in _all_codes() if c not in enum]
    choices += ["code_inexistant", node.value.upper(), node.value + "_bis", "Logement", ""]
    value = rng.choice([c for c in choices if c not in enum])
    return set_at(payload, node.path, value), json_pointer(node.path)


def wrong_type(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    # Mostly strings and dates, as partners get those wrong most often; any node otherwise.
    strings = [n for n in nodes if _is_string(n)]
    node = rng.choice(strings if strings and rng.random() < 0.7 else nodes)
    refused = set(_SAMPLE_OF_TYPE) - node.types
    if "number" in node.types:
        refused.discard("integer")
    value = _SAMPLE_OF_TYPE[rng.choice(sorted(refused))]
    return set_at(payload, node.path, value), json_pointer(node.path)


def missing_required(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    def has_required(node: Node) -> bool:
        return isinstance(node.value, dict) and bool(set(node.schema.get("required", ())))

    node = _pick(rng, nodes, has_required)
    if node is None:
        return None
    key = rng.choice(sorted(set(node.schema["required"]) & set(node.value)))
    del at(payload, node.path)[key]
    return payload, json_pointer((*node.path, key))


def extra_field(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    node = _pick(rng, nodes, lambda n: isinstance(n.value, dict))
    if node is None:
        return None
    known = set(node.schema.get("properties", ()))
    name = rng.choice(
        [n for n in ("commentaire", "Nom", "nir_cle", "id_interne", "_meta") if n not in known]
    )
    at(payload, node.path)[name] = rng.choice(("x", 1, None, True))
    return payload, json_pointer((*node.path, name))


def too_long(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    node = _pick(rng, nodes, lambda n: _is_string(n) and "maxLength" in n.schema)
    if node is None:
        return None
    value = "x" * (node.schema["maxLength"] + 1)
    return set_at(payload, node.path, value), json_pointer(node.path)


_PATTERN_BREAKERS = (
    "", " ", "!", "x y", "-abc", "Z9999", "1234567890123456789", "é", "2026-1",
    "a\x01b", "ligne\x00nulle", "deux\nlignes",
)  # fmt: skip


def bad_pattern(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    """Any other field with a pattern (identifiers, ROME, département, CAF numbers, version)."""
    node = _pick(
        rng,
        nodes,
        lambda n: (
            _is_string(n)
            and "pattern" in n.schema
            and n.schema.get("format") not in ("date", "date-time")
        ),
    )
    if node is None:
        return None
    pattern = node.schema["pattern"]
    values = [v for v in _PATTERN_BREAKERS if not re.search(pattern, v)]
    return set_at(payload, node.path, rng.choice(values)), json_pointer(node.path)


def _with_format(fmt: str) -> Callable[[Node], bool]:
    return lambda node: _is_string(node) and node.schema.get("format") == fmt


bad_date = _replace_with(
    (
        "2024-02-30",
        "2024-13-01",
        "15/04/1990",
        "20240101",
        "2023-02-29",
        "2024-04-31",
        "2024-00-10",
        "1990-4-15",
        "2024-01-01T00:00:00",
    ),
    _with_format("date"),
)
bad_timestamp = _replace_with(
    (
        "2024-01-01T10:00:00",
        "2024-01-01 10:00:00Z",
        "2024-02-30T10:00:00Z",
        "2024-01-01T25:00:00Z",
        "2024-01-01",
        "15/04/2024 10:00",
    ),
    _with_format("date-time"),
)
bad_nir = _replace_with(
    (
        "190019999900",  # 12 characters
        "19001999990012",  # 14 characters
        "1900199999001633",  # 16 characters
        "1900A99999001",  # a letter outside the département
        "19001999990O1",  # letter O for zero
        "1900199999001AB",  # letters for the key
        "1 90 01 99 999 001",  # spaces
        "1900299A99001",
    ),
    _named("nir"),
)
bad_postal_code = _replace_with(
    ("00123", "7500", "750011", "75 001", "ABCDE", "2A004", "", "F-75001"),
    _named("code_postal"),
)
bad_phone = _replace_with(
    (
        "06 12 34 56",
        "+44 20 7946 0958",
        "6 12 34 56 78",
        "06 12 34 56 78 90",
        "00 12 34 56 78",
        "06_12_34_56_78",
        "+33 06 12 34 56 78",
        "téléphone",
        "",
    ),
    _named("telephone", "telephones"),
)
bad_email = _replace_with(
    (
        "prenom.nom",
        "a@b@example.org",
        "a b@example.org",
        "@example.org",
        "nom@-example.org",
        "nom@example..org",
        "nom@exa_mple.org",
        "élodie@example.org",
        "nom@",
    ),
    _named("courriel"),
)

bad_birth_date = _replace_with(
    ("1899-12-31", "1850-06-01", "1000-01-01", "0001-01-01"), _named("date_naissance")
)

# -- the families the schema cannot express: the runtime refuses, the schema accepts ------------


def birth_date_future(
    rng: random.Random, payload: Any, nodes: list[Node]
) -> tuple[Any, str] | None:
    node = _pick(rng, nodes, _named("date_naissance"))
    if node is None:
        return None
    # Past the date it is anywhere on Earth (UTC-12 to UTC+14: two days apart at most).
    value = date.today() + timedelta(days=rng.randint(3, 20_000))
    return set_at(payload, node.path, value.isoformat()), json_pointer(node.path)


def birth_date_nir(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    """A birth date of another year than the NIR's, or of another month (the NIRs of the
    samples have a known month)."""

    def beside_a_nir(node: Node) -> bool:
        return _named("date_naissance")(node) and "nir" in at(payload, node.path[:-1])

    node = _pick(rng, nodes, beside_a_nir)
    if node is None:
        return None
    born = date.fromisoformat(node.value)
    if rng.random() < 0.5:
        value = born.replace(year=born.year - rng.randint(1, 40), day=min(born.day, 28))
    else:
        month = rng.choice([m for m in range(1, 13) if m != born.month])
        value = born.replace(month=month, day=min(born.day, 28))
    return set_at(payload, node.path, value.isoformat()), json_pointer(node.path)


def nir_key(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    node = _pick(rng, nodes, _named("nir"))
    if node is None:
        return None
    nir13 = node.value[:13]
    wrong = (referential.nir_key(nir13) + rng.randint(1, 96)) % 97 or 97
    return set_at(payload, node.path, f"{nir13}{wrong:02d}"), json_pointer(node.path)


def siret_luhn(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    node = _pick(rng, nodes, _named("siret"))
    if node is None:
        return None
    stem, check = node.value[:13], int(node.value[13])
    value = f"{stem}{(check + rng.randint(1, 9)) % 10}"
    assert not referential.siret_is_valid(value)
    return set_at(payload, node.path, value), json_pointer(node.path)


_PERIODS = (("depuis", "jusqu_au"), ("debut", "fin"), ("date_debut", "date_fin"))


def period(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    def pair(node: Node) -> tuple[str, str] | None:
        if not isinstance(node.value, dict):
            return None
        properties = node.schema.get("properties", {})
        return next((p for p in _PERIODS if p[0] in properties and p[1] in properties), None)

    node = _pick(rng, nodes, lambda n: pair(n) is not None)
    if node is None:
        return None
    start, end = pair(node) or ("", "")
    target = at(payload, node.path)
    begins = date.fromisoformat(target.get(start) or "2024-06-15")
    target[start] = begins.isoformat()
    target[end] = (begins - timedelta(days=rng.randint(1, 400))).isoformat()
    return payload, json_pointer((*node.path, end))


def action_xor(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    def is_action(node: Node) -> bool:
        properties = node.schema.get("properties", {})
        return isinstance(node.value, dict) and {"code", "hors_referentiel", "libelle"} <= set(
            properties
        )

    node = _pick(rng, nodes, is_action)
    if node is None:
        return None
    action = at(payload, node.path)
    code = action.get("code") or "logement.appel_115"
    for key in ("code", "hors_referentiel", "libelle"):
        action.pop(key, None)
    variant = rng.randrange(5)
    if variant == 0:  # a code and a free label
        action.update(code=code, libelle="Libellé en trop")
    elif variant == 1:  # hors référentiel but coded
        action.update(hors_referentiel=True, code=code, libelle="Libellé libre")
    elif variant == 2:  # hors référentiel without a label
        action.update(hors_referentiel=True)
    elif variant == 3:  # neither a code nor a label
        pass
    else:  # a free label without the flag
        action.update(hors_referentiel=False, libelle="Libellé libre")
    return payload, json_pointer(node.path)


def integer_as_float(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    node = _pick(
        rng,
        nodes,
        lambda n: type(n.value) is int and "integer" in n.types,
    )
    if node is None:
        return None
    return set_at(payload, node.path, float(node.value)), json_pointer(node.path)


# -- edge values: no expected verdict, but both validators must give the same one ----------------

_EDGE_DATES = (
    "2024-02-29",
    "2023-02-29",
    "1900-02-29",
    "2000-02-29",
    "0001-01-01",
    "9999-12-31",
    "0000-01-01",
)
_EDGE_TIMESTAMPS = (
    "2024-02-29T23:59:59Z",
    "2024-01-01T10:00:00.5Z",
    "2024-01-01T10:00:00.123456+01:00",
    "2024-01-01T10:00:00.1234567Z",
    "2024-01-01T10:00:00-00:00",
    "2024-01-01T10:00:00+14:00",
    "2024-01-01T10:00:00+23:59",
    "2024-01-01T10:00:00+24:00",
    "2024-06-30T23:59:60Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01t10:00:00z",
    "2023-02-29T10:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
)
_EDGE_INTEGERS = (0, 1, -1, 2**31, 2**63, 10**30)


def _period_bounds(nodes: list[Node]) -> set[Path_]:
    """Paths of the dates that bound a period: moving them is the ``period`` family's job."""
    bounds: set[Path_] = set()
    for node in nodes:
        properties = node.schema.get("properties", {})
        for pair in _PERIODS:
            if isinstance(node.value, dict) and set(pair) <= set(properties):
                bounds.update((*node.path, name) for name in pair)
    return bounds


def edge_value(rng: random.Random, payload: Any, nodes: list[Node]) -> tuple[Any, str] | None:
    bounds = _period_bounds(nodes)
    node = _pick(
        rng,
        nodes,
        lambda n: (
            (n.path not in bounds)
            # Birth dates have families of their own (the NIR holds the year and month).
            and n.name != "date_naissance"
            and (
                (type(n.value) is int)
                or (_is_string(n) and n.schema.get("format") in ("date", "date-time"))
                or (_is_string(n) and "maxLength" in n.schema)
            )
        ),
    )
    if node is None:
        return None
    value: Any
    if type(node.value) is int:
        value = rng.choice(_EDGE_INTEGERS)
    elif node.schema.get("format") == "date":
        value = rng.choice(_EDGE_DATES)
    elif node.schema.get("format") == "date-time":
        value = rng.choice(_EDGE_TIMESTAMPS)
    else:  # lengths are counted in code points by both
        limit = node.schema["maxLength"]
        value = rng.choice(
            ("x" * limit, "é" * limit, "\U0001f600" * limit, "\U0001f600" * (limit + 1))
        )
    return set_at(payload, node.path, value), json_pointer(node.path)


#: Families both validators must refuse.
REFUSED_BY_BOTH: dict[str, Mutation] = {
    "wrong_code": wrong_code,
    "wrong_type": wrong_type,
    "missing_required": missing_required,
    "extra_field": extra_field,
    "too_long": too_long,
    "bad_pattern": bad_pattern,
    "bad_date": bad_date,
    "bad_timestamp": bad_timestamp,
    "bad_nir": bad_nir,
    "bad_birth_date": bad_birth_date,
    "bad_postal_code": bad_postal_code,
    "bad_phone": bad_phone,
    "bad_email": bad_email,
}

#: Families JSON Schema cannot express (the schema's description lists them): the runtime must
#: refuse with this code at the mutation's pointer, and the schema must accept.
RUNTIME_ONLY: dict[str, tuple[Mutation, frozenset[str]]] = {
    "nir_key": (nir_key, frozenset({"nir_cle_invalide"})),
    "birth_date_future": (birth_date_future, frozenset({"date_naissance_future"})),
    "birth_date_nir": (birth_date_nir, frozenset({"date_naissance_incoherente_nir"})),
    "siret_luhn": (siret_luhn, frozenset({"siret_invalide"})),
    "period": (period, frozenset({"periode_invalide"})),
    "action_xor": (action_xor, frozenset({"action_code_requis", "action_hors_referentiel"})),
    "integer_as_float": (integer_as_float, frozenset({"type_invalide"})),
}

#: Families with no expected verdict: the two validators must only agree.
AGREEMENT_ONLY: dict[str, Mutation] = {"edge_value": edge_value}

# -- the corpus ----------------------------------------------------------------------------------

#: Payload kinds and their weight in the corpus; every kind is cut out of a generated notebook.
_KINDS = (
    ("carnet", 12),
    ("contribution", 2),
    ("personne", 1),
    ("coordonnees", 1),
    ("droits", 1),
    ("situation", 1),
    ("diagnostic", 1),
    ("axes", 1),
    ("contrat", 1),
    ("accompagnement", 1),
    ("orientation", 1),
    ("rendez_vous", 1),
    ("evenements", 1),
)
_SIZES = (("small", 3), ("normal", 6), ("large", 1))
_FAMILIES = (
    [("valid", 10), ("edge_value", 3)]
    + [(name, 3) for name in REFUSED_BY_BOTH]
    + [(name, 2) for name in RUNTIME_ONLY]
)


def _weighted(rng: random.Random, pairs: Any) -> str:
    names, weights = zip(*pairs, strict=True)
    choice: str = rng.choices(names, weights)[0]
    return choice


@dataclass
class Case:
    number: int
    kind: str
    family: str
    payload: Any
    pointer: str | None = None

    def describe(self) -> str:
        body = json.dumps(self.payload, ensure_ascii=False)
        return f"case {self.number} {self.kind}/{self.family} at {self.pointer!r}: {body}"


def _section(rng: random.Random, carnet: dict[str, Any], kind: str) -> Any:
    if kind == "carnet":
        return carnet
    if kind == "contribution":  # any subset of the sections, the person included or not
        return {k: v for k, v in carnet.items() if rng.random() < 0.5}
    section = carnet[kind]
    return rng.choice(section) if isinstance(section, list) else section


@cache
def corpus() -> tuple[Case, ...]:
    rng = random.Random(SEED)
    known = set(referential.default_validator().kinds)
    kinds = [(kind, weight) for kind, weight in _KINDS if kind in known]
    cases: list[Case] = []
    while len(cases) < CASES:
        kind = _weighted(rng, kinds)
        carnet = samples.generate_carnet(rng, size=_weighted(rng, _SIZES))
        payload = _section(rng, carnet, kind)
        family = _weighted(rng, _FAMILIES)
        case = Case(len(cases), kind, family, payload)
        if family != "valid":
            mutate = AGREEMENT_ONLY.get(family) or REFUSED_BY_BOTH.get(family)
            mutate = mutate or RUNTIME_ONLY[family][0]
            nodes = list(walk(payload, schema(kind)))
            mutated = mutate(rng, json.loads(json.dumps(payload)), nodes)
            if mutated is None:  # no target for this family in this payload
                continue
            case.payload, case.pointer = mutated
        cases.append(case)
    return tuple(cases)


@dataclass
class Outcome:
    families: Counter[str]
    disagreements: list[str]


@cache
def run_corpus() -> Outcome:
    outcome = Outcome(Counter(), [])
    for case in corpus():
        outcome.families[case.family] += 1
        report, schema_ok = verdicts(case.kind, case.payload)
        errors = [(e.pointer, e.code) for e in report.errors]
        if case.family in RUNTIME_ONLY:
            codes = RUNTIME_ONLY[case.family][1]
            found = any(e.code in codes and e.pointer == case.pointer for e in report.errors)
            if not found or not schema_ok:
                outcome.disagreements.append(
                    f"{case.describe()}\n  runtime must refuse with {sorted(codes)} at "
                    f"{case.pointer!r} (got {errors}); schema must accept (got {schema_ok})"
                )
        elif report.valid != schema_ok:
            outcome.disagreements.append(
                f"{case.describe()}\n  runtime valid={report.valid} {errors}; "
                f"jsonschema valid={schema_ok}"
            )
        elif case.family in REFUSED_BY_BOTH and schema_ok:
            outcome.disagreements.append(
                f"{case.describe()}\n  mutation {case.family} left the payload valid (test bug)"
            )
    return outcome


def test_the_corpus_is_large_and_covers_every_family_and_kind():
    cases = corpus()
    assert len(cases) >= 2_000
    families = Counter(c.family for c in cases)
    for family in ("valid", *AGREEMENT_ONLY, *REFUSED_BY_BOTH, *RUNTIME_ONLY):
        assert families[family] >= 30, (family, families)
    kinds = Counter(c.kind for c in cases)
    assert set(kinds) == set(referential.default_validator().kinds), "a kind has no extractor"
    valid = [c for c in cases if c.family == "valid"]
    assert sum(c.kind == "carnet" for c in valid) >= 200


def test_runtime_and_published_schema_agree():
    outcome = run_corpus()
    shown = "\n".join(outcome.disagreements[:5])
    assert not outcome.disagreements, (
        f"{len(outcome.disagreements)} disagreements out of {len(corpus())} payloads:\n{shown}"
    )


# -- regressions and known disagreements, one minimal payload each --------------------------

_EVENEMENT = {"id": "evt-0001", "type": "autre", "date": "2025-11-18T17:30:00Z", "libelle": "Note"}
_PERSONNE = {"nom": "Aubépine", "prenom": "Léa", "date_naissance": "1990-04-15"}


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("evenements", _EVENEMENT),
        (
            "rendez_vous",
            {"id": "rdv-0001", "date": "2025-10-24T10:15:00+01:00", "statut": "present"},
        ),
        ("carnet", {"personne": _PERSONNE, "evenements": [_EVENEMENT]}),
    ],
)
def test_runtime_accepts_rfc3339_timestamps(kind, payload):
    """Regression: a Strict() datetime behind the RFC 3339 check once refused every timestamp."""
    report, schema_ok = verdicts(kind, payload)
    assert schema_ok
    assert report.valid, report.errors


def test_runtime_and_schema_agree_on_plus_269_phones():
    """Regression: the pattern once admitted +269 (the Comoros) for Mayotte, whose code is +262."""
    report, schema_ok = verdicts("coordonnees", {"telephones": ["+269 6 39 12 34 56"]})
    assert report.valid == schema_ok, (report.errors, schema_ok)


def test_runtime_and_schema_agree_on_unknown_referential_version():
    payload = {"personne": _PERSONNE, "version_referentiel": "2099.1"}
    report, schema_ok = verdicts("carnet", payload)
    assert report.valid == schema_ok, (report.errors, schema_ok)


_NIR13 = "1900499999001"
_WRONG_KEY = f"{(referential.nir_key(_NIR13) % 97) + 1:02d}"


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        pytest.param(
            "personne",
            {**_PERSONNE, "nir": _NIR13 + "\n"},
            id="nir",
        ),
        pytest.param(
            "coordonnees",
            {"telephones": ["06 12 34 56 78\n"]},
            id="telephone",
        ),
        pytest.param(
            "coordonnees",
            {"adresse": {"ligne1": "1 rue", "code_postal": "75001\n", "commune": "X"}},
            id="code_postal",
        ),
        pytest.param("coordonnees", {"courriel": "lea@example.org\n"}, id="courriel"),
        pytest.param(
            "orientation",
            {
                "type": "social",
                "date": "2024-01-01",
                "structure": {"nom": "S", "siret": "99999999922011\n"},
            },
            id="siret",
        ),
        pytest.param(
            "situation", {"projets_professionnels": [{"code_rome": "F1606\n"}]}, id="code_rome"
        ),
        pytest.param("evenements", {**_EVENEMENT, "date": "2025-11-18T17:30:00Z\n"}, id="date"),
    ],
)
def test_a_trailing_newline_is_refused(kind, payload):
    """The runtime must follow JSON Schema's regex dialect, where $ is the very end of the text."""
    report, _ = verdicts(kind, payload)
    assert not report.valid


def test_a_wrong_nir_key_is_refused_even_with_a_trailing_newline():
    report, _ = verdicts("personne", {**_PERSONNE, "nir": f"{_NIR13}{_WRONG_KEY}\n"})
    assert not report.valid
