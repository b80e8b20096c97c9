"""Fixtures of the France Travail tests: FT is mocked at the HTTP boundary with respx."""

import random
from datetime import UTC, datetime

import pytest
import respx

from connectors.france_travail import FranceTravailConnector, FranceTravailSettings
from tests.connectors.france_travail.samples import CLIENT_ID, SECRET


class Clock:
    """Monotonic and wall clocks the test moves by hand."""

    def __init__(self):
        self.now = 1000.0
        self.wall = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make(clock, sleeps):
    """Factory: a connector with recorded sleeps, a fixed random generator and hand clocks."""
    made = []

    def build(**overrides):
        async def sleep(seconds):
            sleeps.append(seconds)
            clock.now += seconds

        overrides.setdefault("rate_limit_per_second", 0)
        settings = FranceTravailSettings(client_id=CLIENT_ID, client_secret=SECRET, **overrides)
        connector = FranceTravailConnector(
            settings, sleep=sleep, rng=random.Random(7), clock=clock, wall=lambda: clock.wall
        )
        made.append(connector)
        return connector

    return build


@pytest.fixture
def ft(make):
    return make()


@pytest.fixture
def ft_v1(make):
    return make(generation="v1")


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router
