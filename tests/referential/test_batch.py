"""Batches in bounded memory: the line splitter and the grouped batch report."""

import json

import pytest

import referential
from referential import BatchReport, LineSplitter, TooLong

VALID = json.dumps({"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-04-15"}})


def split(chunks, limit=1000):
    splitter = LineSplitter(limit)
    lines = [found for chunk in chunks for found in splitter.feed(chunk)]
    return lines + list(splitter.finish())


def test_lines_are_numbered_across_chunks_and_blank_lines_skipped():
    assert split([b'{"a"', b": 1}\n\n  \n{", b'"b": 2}']) == [(1, b'{"a": 1}'), (4, b'{"b": 2}')]


def test_crlf_line_ends_leave_a_whitespace_the_json_parser_ignores():
    assert split([b"{}\r\n\r\n{}\r\n"]) == [(1, b"{}\r"), (3, b"{}\r")]


@pytest.mark.parametrize("ending", [b"\n", b""])
def test_a_line_past_the_limit_is_reported_without_its_bytes(ending):
    found = split([b"{}\n", b"x" * 700, b"x" * 700 + ending], limit=1000)
    assert found == [(1, b"{}"), (2, TooLong(1400, 1000))]


def test_a_too_long_line_is_an_error_of_its_own_line():
    validator = referential.default_validator()
    batch = BatchReport(kind="carnet", version=validator.version)
    batch.add_line(validator, 7, TooLong(2000, 1000))
    (group,) = batch.groups("erreur")
    assert (group.finding.code, group.lignes) == ("ligne_trop_longue", [[7, 7]])


def _invalid(name):
    return json.dumps({"personne": {"nom": "A", "prenom": "B", "date_naissance": "x"}, name: 1})


def test_distinct_findings_past_the_bound_are_counted_but_not_listed():
    validator = referential.default_validator()
    batch = BatchReport(kind="carnet", version=validator.version, max_groups=10)
    for ligne in range(1, 101):
        batch.add_line(validator, ligne, _invalid(f"champ{ligne}").encode())
    wire = batch.to_wire()
    assert (wire["nombre_lignes"], wire["lignes_invalides"], wire["nombre_erreurs"]) == (
        100,
        100,
        200,
    )
    assert len(wire["erreurs"]) == 10
    assert wire["tronque"] is True
    dates = next(e for e in wire["erreurs"] if e["code"] == "date_invalide")
    assert (dates["nombre"], dates["lignes"]) == (100, [[1, 100]])


def test_ranges_past_the_bound_are_counted_but_not_listed():
    validator = referential.default_validator()
    batch = BatchReport(kind="carnet", version=validator.version, max_ranges=3)
    for ligne in range(1, 21):
        body = _invalid("x") if ligne % 2 else VALID
        batch.add_line(validator, ligne, body.encode())
    wire = batch.to_wire()
    unknown = next(e for e in wire["erreurs"] if e["code"] == "champ_inconnu")
    assert unknown["nombre"] == 10
    assert unknown["lignes"] == [[1, 1], [3, 3], [5, 5]]
    assert unknown["lignes_tronquees"] is True
    assert wire["tronque"] is True
