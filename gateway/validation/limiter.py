"""A token bucket per client address, for anonymous validation.

Per process: each gateway worker counts its own callers (a caller spread over ``n`` workers gets
up to ``n`` times the rate). It bounds the cost of anonymous use, it is not an accounting: the
buckets of at most ``max_addresses`` addresses are kept, the least recently seen dropped first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gateway.caches import BoundedLRU


class TokenBuckets:
    """``per_minute`` requests per minute and address, in bursts of at most ``per_minute``."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_addresses = max_addresses
        self._clock = clock
        self._buckets: BoundedLRU[str, tuple[float, float]] = BoundedLRU(max_addresses)

    def take(self, address: str) -> float:
        """0 when a request of ``address`` may go now (and it is counted), otherwise the seconds
        to wait before the next one may."""
        now = self._clock()
        tokens, seen = self._buckets.pop(address) or (self.capacity, now)
        tokens = min(self.capacity, tokens + (now - seen) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets.put(address, (tokens, now))
        return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
