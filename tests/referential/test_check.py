"""``Validator.check`` — the path of the validation API and of ``carnet validate``, which builds
plain dicts instead of models — gives exactly the findings of ``Validator.validate``: same errors
and warnings, in the same order, with the same pointers, codes, messages, expected values,
suggestions and line numbers. ``Validator.validate_data`` — the write path's, on the same plain
dicts — gives those findings too, and as data exactly the JSON dump of the typed value.

Compared on every payload of the differential corpus (every kind, valid and mutated by every
family), on every conformance example read as every kind, on notebooks with hypothesis-drawn
values grafted anywhere, on malformed bodies, and on the made-up second referential version
(deprecated codes, translations from the older version, retired codes).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

import referential
from referential import samples
from referential._plain import UnsupportedSchema, plain_validator
from tests.referential.test_differential import (
    AGREEMENT_ONLY,
    REFUSED_BY_BOTH,
    RUNTIME_ONLY,
    corpus,
    schema,
    walk,
)
from tests.referential.versions import (
    MERGED,
    RENAMED,
    RETIRED,
    SPLIT,
    SPLIT_RETIRED,
    V1,
    V2,
    second_version,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "openapi" / "examples"
#: Sections found valid, shared by every comparison of this module: a payload meets sections
#: of the payloads compared before it (the corpus mutates the same notebooks over and over).
KNOWN = referential.KnownSections(64 * 1024 * 1024, patience=None)
#: Sections taken from KNOWN at the first comparison of a payload (known from other payloads).
MET = {"sections": 0}


def assert_same_findings(
    validator: referential.Validator, kind: str, body: bytes | str, ligne: int | None = None
) -> referential.Report:
    typed = validator.validate(kind, body, ligne=ligne)
    plain = validator.check(kind, body, ligne=ligne)
    data = validator.validate_data(kind, body, ligne=ligne)
    for other in (plain, data):
        assert other.errors == typed.errors, (kind, body)
        assert other.warnings == typed.warnings, (kind, body)
        assert (other.kind, other.version) == (typed.kind, typed.version)
        assert other.value is None
    assert (typed.value is None) == bool(typed.errors)
    assert plain.data is None
    if typed.value is None:
        assert data.data is None
    else:
        # The write path's data: exactly the typed value's JSON dump.
        assert data.data == typed.value.model_dump(mode="json", exclude_unset=True), (kind, body)
    # With the sections already known: the same report, members in the same order (the first
    # time may remember sections, the second finds them).
    for attempt in range(2):
        hits = KNOWN.hits
        known = validator.validate_data(kind, body, ligne=ligne, known=KNOWN)
        MET["sections"] += (KNOWN.hits - hits) if attempt == 0 else 0
        assert (known.errors, known.warnings) == (data.errors, data.warnings), (kind, body)
        assert (known.kind, known.version, known.value) == (data.kind, data.version, None)
        assert json.dumps(known.data) == json.dumps(data.data), (kind, body)
    return typed


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def test_every_payload_of_the_differential_corpus_gets_the_same_findings():
    validator = referential.default_validator()
    refused = 0
    for case in corpus():
        refused += not assert_same_findings(validator, case.kind, dumps(case.payload)).valid
    assert refused >= 1_000  # the corpus is mostly mutated


def test_sections_known_from_another_payload_give_the_same_findings():
    """A contribution, then the same mutated by every family of the differential corpus: the
    sections left as they were are known, beside the mutated one."""
    validator = referential.default_validator()
    rng = random.Random(5)
    mutations = [
        *AGREEMENT_ONLY.values(),
        *REFUSED_BY_BOTH.values(),
        *(mutate for mutate, _ in RUNTIME_ONLY.values()),
    ]
    met, compared = MET["sections"], 0
    for _ in range(12):
        notebook = samples.generate_carnet(rng, size="large")
        payload = {k: v for k, v in notebook.items() if k not in ("personne", "territoire")}
        assert_same_findings(validator, "contribution", dumps(payload))
        nodes = list(walk(payload, schema("contribution")))
        for mutate in mutations:
            mutated = mutate(rng, json.loads(json.dumps(payload)), nodes)
            if mutated is not None:
                assert_same_findings(validator, "contribution", dumps(mutated[0]))
                compared += 1
    assert compared >= 100
    assert MET["sections"] - met >= 2 * compared


def test_every_conformance_example_read_as_every_kind_gets_the_same_findings():
    validator = referential.default_validator()
    examples = sorted(p for p in EXAMPLES.rglob("*.json") if not p.name.endswith(".attendu.json"))
    assert len(examples) >= 13
    for path in examples:
        for kind in validator.kinds:
            assert_same_findings(validator, kind, path.read_bytes(), ligne=3)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b" ",
        b"{",
        b"[]",
        b"null",
        b"12",
        b'"carnet"',
        b"\xff\xfe",
        b'{"personne": {"nom": "A", "nom": 12, "prenom": "B", "date_naissance": "1990-01-01"}}',
        b'{"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-01-01"}, '
        b'"\\u0076ersion_referentiel": "2099.1"}',
        b'{"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-01-01"}, '
        b'"version_referentiel": "2026.1", "version_referentiel": "1999.1"}',
        b'{"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-01-01"}, '
        b'"x": 1, "y": 2, "x": 3, "coordonnees": {"q": 1, "q": 2}}',
        b'{"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-01-01"}, '
        b'"situation": {"projets_professionnels": [{"rayon_mobilite_km": 1e400}]}}',
        b'{"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-01-01"}, '
        b'"situation": {"projets_professionnels": [{"taux_horaire_centimes": '
        b"123456789012345678901234567890}]}}",
        '{"personne": {"nom": "Zoé", "prenom": "Éloi", "date_naissance": "1990-01-01"}}',
    ],
)
def test_malformed_or_unusual_bodies_get_the_same_findings(body):
    validator = referential.default_validator()
    for kind in validator.kinds:
        assert_same_findings(validator, kind, body)


# -- hypothesis: any JSON value anywhere in a notebook ----------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "2024-02-29",
            "2024-02-30",
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00",
            "0612345678",
            "73282932000074",
            "logement.sans_hebergement",
            "en_cours",
            "2026.1",
            "2025.1",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["code", "statut", "x", "nom", "debut", "fin"]), children)
    ),
    max_leaves=8,
)


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, item in node.items():
            found += _paths(item, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _paths(item, (*path, index))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    seed=st.integers(0, 2**32),
    size=st.sampled_from(samples.SIZES),
    kind=st.sampled_from(["carnet", "contribution", "axes", "accompagnement", "rendez_vous"]),
)
def test_a_notebook_with_any_value_grafted_anywhere_gets_the_same_findings(data, seed, size, kind):
    carnet = samples.generate_carnet(random.Random(seed), size=size)
    payload: Any = carnet if kind in ("carnet", "contribution") else carnet.get(kind)
    if isinstance(payload, list):
        payload = payload[0] if payload else {}
    for _ in range(data.draw(st.integers(1, 3), label="grafts")):
        path = data.draw(st.sampled_from(_paths(payload)), label="path")
        action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        value = data.draw(_JSON, label="value")
        if not path:
            payload = value
            continue
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["commentaire", "code", "id", "fin"]))] = value
        else:
            parent[path[-1]] = value
    assert_same_findings(referential.default_validator(), kind, dumps(payload), ligne=1)


# -- the made-up second version: deprecated, translated and retired codes ---------------------


@pytest.fixture(scope="module")
def validator_v2(tmp_path_factory):
    return referential.Validator(second_version(tmp_path_factory.mktemp("v2")))


_CHANGED_CODES = (
    RENAMED[0],
    RENAMED[1],
    *MERGED[0],
    MERGED[1],
    SPLIT[0],
    *SPLIT[1],
    SPLIT_RETIRED[0],
    RETIRED,
)


@pytest.mark.parametrize("declared", [None, V1, V2, "2099.1"])
def test_notebooks_of_either_version_get_the_same_findings(validator_v2, declared):
    rng = random.Random(f"check-{declared}")
    warned = 0
    for _ in range(60):
        carnet = samples.generate_carnet(rng, size=rng.choice(samples.SIZES))
        for situation in carnet.get("diagnostic", {}).get("situations", []):
            if rng.random() < 0.3:
                situation["code"] = rng.choice(_CHANGED_CODES)
        if declared is not None:
            carnet["version_referentiel"] = declared
        for kind in ("carnet", "contribution", "diagnostic"):
            payload = carnet if kind != "diagnostic" else carnet.get("diagnostic", {})
            report = assert_same_findings(validator_v2, kind, dumps(payload), ligne=2)
            warned += bool(report.warnings)
    assert warned or declared == "2099.1"


# -- the conversion refuses what it does not carry over ---------------------------------------


class _Aliased(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(alias="nom")


class _Computed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def upper(self) -> str:
        return self.name.upper()


class _Wrapped(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str

    @model_validator(mode="wrap")
    @classmethod
    def _wrap(cls, value: Any, handler: Any) -> Any:
        return handler(value)


@pytest.mark.parametrize("model", [_Aliased, _Computed, _Wrapped])
def test_a_model_feature_the_conversion_does_not_carry_over_is_refused(model):
    with pytest.raises(UnsupportedSchema):
        plain_validator(model)
