"""Sections sent again as they were are not merged again, and nothing else changes.

Differential: sequences of contributions by two sources — sections drawn from a few made-up
files, sent again, observed earlier or later, with items closed or repeated — applied to one
state with the recognition of resent sections and to another without: every outcome is the
same, and so is every state (but its digests).
"""

import copy
import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.notebooks.merge import RESENDABLE, Source, empty_state, merge
from referential import samples

SOURCES = (
    Source(key="organisation:a", type_acteur="departement", client="cli_a"),
    Source(key="organisation:b", type_acteur="association", client="cli_b"),
)
FILES = [samples.generate_carnet(random.Random(seed), size="normal") for seed in range(3)]
SECTIONS = (*RESENDABLE, "droits", "situation")


def _variant(section: object, change: str) -> object:
    """The section as drawn: as it was, with its first item closed, or with it repeated."""
    section = copy.deepcopy(section)
    if change == "as_is":
        return section
    items = (
        section
        if isinstance(section, list)
        else next((v for v in section.values() if isinstance(v, list) and v), None)
    )
    if not items:
        return section
    if change == "closed" and isinstance(items[0], dict):
        items[0]["supprime"] = True
    elif change == "repeated":
        items.append(copy.deepcopy(items[0]))
    return section


@st.composite
def contributions(draw):
    contribution = {"observe_le": f"2026-01-01T00:{draw(st.integers(0, 9)):02d}:00Z"}
    for name in draw(st.lists(st.sampled_from(SECTIONS), min_size=1, max_size=4, unique=True)):
        source_file = FILES[draw(st.integers(0, len(FILES) - 1))]
        if name in source_file:
            change = draw(st.sampled_from(["as_is", "as_is", "closed", "repeated"]))
            contribution[name] = _variant(source_file[name], change)
    return draw(st.integers(0, 1)), contribution


def _without_digests(state):
    return {key: value for key, value in state.items() if key != "empreintes"}


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(contributions(), min_size=1, max_size=10))
def test_resent_sections_are_skipped_with_the_outcomes_and_states_of_a_full_merge(steps):
    recognising, merging_all = empty_state(), empty_state()
    for number, (source, contribution) in enumerate(steps):
        received = f"2026-02-01T00:00:{number:02d}Z"
        skipped = merge(recognising, copy.deepcopy(contribution), SOURCES[source], received)
        full = merge(
            merging_all, copy.deepcopy(contribution), SOURCES[source], received, resent=False
        )
        assert skipped.to_wire() == full.to_wire()
        assert skipped.sections == full.sections
        assert orjson.dumps(_without_digests(recognising)) == orjson.dumps(merging_all)


def test_a_file_sent_again_later_is_recognised_section_by_section():
    """What the differential test rests on actually happens: the sections of a file sent again,
    observed later, are recognised — unless one changed or the observation is older."""
    state = empty_state()
    notebook = copy.deepcopy(FILES[0])
    sections = {name: notebook[name] for name in RESENDABLE if name in notebook}
    first = merge(state, {"observe_le": "2026-01-01T00:00:00Z", **sections}, SOURCES[0], "r1")
    assert first.appliques
    assert set(state["empreintes"][SOURCES[0].key]) == set(sections)
    again = {"observe_le": "2026-01-02T00:00:00Z", **copy.deepcopy(sections)}
    recorded = copy.deepcopy(state)
    second = merge(state, again, SOURCES[0], "r2")
    assert second.appliques == []
    assert len(second.inchanges) == len(first.appliques)
    assert state == recorded  # nothing merged, nothing recorded anew
    older = {"observe_le": "2025-12-31T00:00:00Z", **copy.deepcopy(sections)}
    third = merge(state, older, SOURCES[0], "r3")
    assert third.ignores_obsoletes
    assert third.appliques == []
    assert "diagnostic" not in state["empreintes"][SOURCES[0].key]
