"""Properties of the France Travail mapping: whatever FT sends, codes only, valid output."""

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.france_travail.mapping import Diagnostic, Entry, Theme, map_diagnostic
from referential import current_referential, default_validator

REFERENTIAL = current_referential()
VALIDATOR = default_validator()
FETCHED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
codes = st.sampled_from([str(n) for n in range(0, 60)] + ["99", "", "x"])
valeurs = st.sampled_from(
    [
        "OUI",
        "NON",
        "NON_ABORDEE",
        "CLOTUREE",
        "EN_COURS",
        "REALISE",
        "ABANDONNE",
        "NON_ABORDE",
        "NSP",
    ]
)
dates = st.one_of(
    st.none(),
    st.just("pas une date"),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2026, 5, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
)
entries = st.lists(st.builds(Entry, st.just("/x"), codes, valeurs, dates), max_size=6)
themes = st.lists(
    st.builds(
        Theme,
        st.just("/c"),
        st.sampled_from(["22", "23", "24", "25", "26", "27", "28", "29", "99"]),
        valeurs,
        dates,
        entries.map(tuple),
        entries.map(tuple),
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(
    themes=themes,
    version=st.sampled_from(["diagnostic_v1", "diagnostic_v4"]),
    declared=st.one_of(st.none(), dates),
)
def test_any_diagnostic_maps_to_a_valid_contribution(themes, version, declared):
    diagnostic = Diagnostic(version_api=version, themes=tuple(themes), sans_contrainte=declared)
    mapped = map_diagnostic(diagnostic, REFERENTIAL, FETCHED)
    report = VALIDATOR.validate("contribution", orjson.dumps(mapped.contribution))
    assert report.valid, [e.to_wire() for e in report.errors]
    assert mapped.unknown_codes == sum(n.code == "code_inconnu" for n in mapped.notices)
    assert mapped.contribution["observe_le"] <= "2026-06-01T12:00:00Z"


@settings(max_examples=50, deadline=None)
@given(themes=themes)
def test_the_mapping_is_a_function_of_codes_and_values(themes):
    first = map_diagnostic(Diagnostic("diagnostic_v4", tuple(themes)), REFERENTIAL, FETCHED)
    again = map_diagnostic(Diagnostic("diagnostic_v4", tuple(themes)), REFERENTIAL, FETCHED)
    assert first.contribution == again.contribution
