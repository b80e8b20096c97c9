"""The sections known valid: bounded in bytes, and looked up only while payloads bring some."""

import json
import random

import referential
from referential import KnownSections, samples


def contribution(seed: int) -> bytes:
    notebook = samples.generate_carnet(random.Random(seed), size="large")
    sections = {k: v for k, v in notebook.items() if k not in ("personne", "territoire")}
    return json.dumps(sections, ensure_ascii=False).encode()


def test_known_sections_are_forgotten_oldest_first_past_their_capacity():
    known = KnownSections(1_000)
    validator = referential.default_validator()
    for index in range(10):
        key = (validator, "contribution", "diagnostic", b"x" * 300 + str(index).encode())
        known.put(key, b"{}")
    assert known.size <= 1_000
    assert len(known) == 3
    assert known.get((validator, "contribution", "diagnostic", b"x" * 300 + b"0")) is None
    assert known.get((validator, "contribution", "diagnostic", b"x" * 300 + b"9")) == b"{}"
    # Larger than the whole capacity: not kept.
    known.put((validator, "contribution", "axes", b"y" * 2_000), b"{}")
    assert known.get((validator, "contribution", "axes", b"y" * 2_000)) is None


def test_after_payloads_without_known_sections_only_one_in_a_sample_is_looked_up():
    validator = referential.default_validator()
    known = KnownSections(64 * 1024 * 1024, patience=4)
    assert KnownSections.SAMPLE == 16
    bodies = [contribution(seed) for seed in range(20)]

    def validate(body: bytes) -> None:
        report = validator.validate_data("contribution", body, known=known)
        expected = validator.validate_data("contribution", body)
        assert (report.errors, report.warnings) == (expected.errors, expected.warnings)
        assert json.dumps(report.data) == json.dumps(expected.data)

    for body in bodies[:4]:  # payloads 1-4: looked up, nothing known, remembered
        validate(body)
    remembered = len(known)
    assert remembered >= 4 * 5
    for body in bodies[4:15]:  # payloads 5-15: four in a row brought nothing, not looked up
        validate(body)
    assert len(known) == remembered
    hits = known.hits
    validate(bodies[0])  # payload 16: looked up, its sections are known
    assert known.hits - hits >= 5
    validate(bodies[15])  # payload 17: looked up again, and remembered
    assert len(known) > remembered
