"""``Retry-After`` as the connectors and the delivery worker read it (RFC 9110)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors import retry_after_seconds

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "99999999999999",  # more than ten digits: unreadable, not an overflow
        "9" * 400,
        "²",  # a Unicode digit, not an ASCII one
        "٣٠",
        "-5",
        "1.5",
        "+5",
        "Fri, 99 Foo 2026 25:61:00 GMT",
        "demain",
    ],
)
def test_an_unreadable_retry_after_is_absent(value):
    assert retry_after_seconds(value, NOW) is None


@pytest.mark.parametrize(
    ("value", "seconds"), [("0", 0.0), ("120", 120.0), ("9999999999", 9999999999.0)]
)
def test_delta_seconds_are_bounded_ascii_digits(value, seconds):
    assert retry_after_seconds(value, NOW) == seconds


def test_a_valid_http_date_is_the_delay_until_it_and_a_past_one_no_delay():
    later = format_datetime(NOW + timedelta(hours=3), usegmt=True)
    assert retry_after_seconds(later, NOW) == 3 * 3600
    earlier = format_datetime(NOW - timedelta(hours=3), usegmt=True)
    assert retry_after_seconds(earlier, NOW) == 0.0
