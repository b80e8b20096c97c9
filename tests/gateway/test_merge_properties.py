"""Merge properties on the pure functions, without HTTP or a database: the merge of validated
contributions into a state (``gateway.notebooks.merge.merge``) and the view rendered from it
(``gateway.notebooks.view.render``). Hundreds of examples in the time one example takes through
the app; ``test_notebooks_properties.py`` keeps a few end to end on top.
"""

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.notebooks.merge import Source, empty_state, merge
from gateway.notebooks.view import render
from referential import default_validator
from tests.gateway.test_notebooks_properties import comparable, contributions, disjoint_droits

PURE_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)
VALIDATOR = default_validator()
SOURCES = (
    Source(key="organisation:premier", type_acteur="departement", client="cli_1"),
    Source(key="organisation:second", type_acteur="departement", client="cli_2"),
)
#: Receptions of the examples: after every observation the strategies draw.
RECEIVED = "2026-01-01T00:00:00Z"
LATER = "2026-01-02T00:00:00Z"


def validated(contribution: dict[str, Any]) -> dict[str, Any]:
    """The contribution as the notebook service hands it to the merge: validated against the
    referential, its observation time given (the reception's by default)."""
    report = VALIDATOR.validate_data("contribution", orjson.dumps(contribution))
    assert not report.errors, [e.to_wire() for e in report.errors]
    assert report.data is not None
    data = report.data
    data.setdefault("observe_le", RECEIVED)
    return data


def view(state: dict[str, Any]) -> dict[str, Any]:
    """The notebook's view rendered from ``state``."""
    moment = datetime(2026, 1, 3, tzinfo=UTC)
    rendered = render(
        carnet_id="c",
        version=1,
        territoire="26",
        cree_le=moment,
        modifie_le=moment,
        state=state,
        validator=VALIDATOR,
    )
    return dict(orjson.loads(rendered.json))


def replaying_changes_nothing(contribution: dict[str, Any]) -> None:
    """Merge ``contribution`` twice into a new state: the second time changes nothing."""
    state = empty_state()
    merge(state, validated(contribution), SOURCES[0], RECEIVED)
    before = copy.deepcopy(state)
    again = merge(state, validated(contribution), SOURCES[0], LATER)
    assert again.appliques == []
    assert view(state) == view(before)


@PURE_SETTINGS
@given(contribution=contributions())
def test_the_same_contribution_twice_changes_nothing_the_second_time(contribution):
    replaying_changes_nothing(contribution)


@PURE_SETTINGS
@example(
    contribution={
        "diagnostic": {
            "situations": [
                {"code": "mobilite.permis_b", "depuis": "2025-01-01"},
                {"code": "mobilite.permis_b", "depuis": "2025-02-01"},
            ]
        }
    }
)
@given(contribution=contributions(distinct_items=False))
def test_a_contribution_repeating_an_item_changes_nothing_the_second_time(contribution):
    replaying_changes_nothing(contribution)


@PURE_SETTINGS
@given(data=st.data(), split=disjoint_droits())
def test_contributions_of_two_sources_about_different_items_commute(data, split):
    first = validated(data.draw(contributions(split[0]), label="first"))
    second = validated(data.draw(contributions(split[1]), label="second"))
    one_way, other_way = empty_state(), empty_state()
    merge(one_way, copy.deepcopy(first), SOURCES[0], RECEIVED)
    merge(one_way, copy.deepcopy(second), SOURCES[1], RECEIVED)
    merge(other_way, copy.deepcopy(second), SOURCES[1], RECEIVED)
    merge(other_way, copy.deepcopy(first), SOURCES[0], RECEIVED)
    assert comparable(view(one_way)) == comparable(view(other_way))
