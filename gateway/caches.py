"""One bounded cache for the whole gateway: a least-recently-used map, bounded by its number of
entries and, when asked, by the summed weight of its entries (their bytes), safe to share
between threads, with a hook for what an evicted entry holds (a connection pool to close)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """``max_entries`` entries at most (None: no such bound) and, with ``weight``, a summed
    weight of ``max_weight`` at most; the least recently used leave first, through
    ``on_evict``. An entry heavier than ``max_weight`` by itself is not kept."""

    def __init__(
        self,
        max_entries: int | None = None,
        *,
        max_weight: int | None = None,
        weight: Callable[[K, V], int] | None = None,
        on_evict: Callable[[K, V], None] | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._weigh = weight
        self._on_evict = on_evict
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._mutex = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        with self._mutex:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def pop(self, key: K) -> V | None:
        """The value of ``key``, taken out of the cache, or None."""
        with self._mutex:
            found = self._entries.pop(key, None)
            if found is None:
                return None
            self._weight -= found[1]
            return found[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` (replacing any), as the most recently used."""
        weight = self._weigh(key, value) if self._weigh is not None else 0
        if (self.max_entries is not None and self.max_entries <= 0) or (
            self.max_weight is not None and weight > self.max_weight
        ):
            return
        evicted = []
        with self._mutex:
            old = self._entries.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._entries[key] = (value, weight)
            self._weight += weight
            while (self.max_entries is not None and len(self._entries) > self.max_entries) or (
                self.max_weight is not None and self._weight > self.max_weight
            ):
                gone, (dropped, dropped_weight) = self._entries.popitem(last=False)
                self._weight -= dropped_weight
                evicted.append((gone, dropped))
        if self._on_evict is not None:
            for gone, dropped in evicted:
                self._on_evict(gone, dropped)

    def drain(self) -> list[tuple[K, V]]:
        """Every entry, taken out of the cache (most recent first)."""
        with self._mutex:
            taken = [(key, value) for key, (value, _) in reversed(self._entries.items())]
            self._entries.clear()
            self._weight = 0
        return taken

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def weight(self) -> int:
        """The summed weight of the entries."""
        return self._weight
