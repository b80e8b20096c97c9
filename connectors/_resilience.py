"""Retries with exponential backoff and jitter, ``Retry-After``, and a circuit breaker.

Shared by the connectors. Clocks, sleeps and randomness are injectable so that tests never wait.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from connectors._interface import CircuitOpen, CircuitState

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


#: ``delta-seconds`` as read here: up to ten ASCII digits (more than three centuries).
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The delay a ``Retry-After`` header asks for (RFC 9110: delta-seconds or an HTTP-date),
    or None when it is absent or unreadable (not ASCII digits of bounded length nor a valid
    date): callers cap the delay they honour."""
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):  # ASCII digits only, bounded: a finite, exact float
        return float(text)
    if not text or text[0].isdigit() or text[0] in "+-.":
        return None  # a negative, fractional or overlong number is no HTTP-date either
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(slots=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` calls at most, exponential delays with jitter, capped, and
    a cap on the total time spent waiting (``Retry-After`` included)."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    total_wait: float = 30.0
    #: Wait when a 429 says nothing of when to come back.
    retry_after_default: float = 60.0
    sleep: Sleep = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (1, 2, …): half fixed, half random."""
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        jitter = self.rng.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` seconds one trial call
    goes through (half-open) while the others are refused: its success closes the circuit,
    its failure opens it again, and a trial that ends without a verdict (the partner
    answered, but not with an outage) lets the next caller try."""

    def __init__(self, threshold: int = 5, cooldown: float = 60.0, clock: Clock = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def before_call(self) -> bool:
        """Raise :class:`CircuitOpen` while the circuit is open, or half-open with a trial
        under way; True when this call is the half-open trial (end it with
        :meth:`success`, :meth:`failure` or :meth:`release`)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return False
        assert self._opened_at is not None
        if state is CircuitState.OPEN:
            remaining = self.cooldown - (self._clock() - self._opened_at)
            raise CircuitOpen(
                "Le service partenaire a échoué à plusieurs reprises : appels suspendus.",
                retry_after=max(0.0, remaining),
            )
        if self._trial:
            raise CircuitOpen(
                "Le service partenaire a échoué à plusieurs reprises : un appel d'essai est en "
                "cours, les autres attendent son issue.",
                retry_after=1.0,
            )
        self._trial = True
        return True

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def failure(self) -> None:
        self._failures += 1
        if self.state is CircuitState.HALF_OPEN or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._trial = False

    def release(self) -> None:
        """The trial call ended without saying whether the partner is back: the next caller
        makes the trial."""
        self._trial = False


class Throttle:
    """At most ``rate`` calls per second from this process, spaced evenly, so that the
    partner's rate limit (429) is rarely met; ``rate`` 0 lets every call through."""

    def __init__(self, rate: float, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep):
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            now = self._clock()
            if self._next > now:
                await self._sleep(self._next - now)
                now = self._next
            self._next = now + 1.0 / self.rate
