"""Decoded notebook states kept between writes, keyed by notebook and version.

Decoding a stored state (tens of kilobytes of JSON) is a large share of a write. A process keeps
the states it wrote last, each under the version it was committed as: a writer that finds the
stored version in the cache takes the state from there instead of decoding the column. The
version read under the row lock is the truth, so a state written meanwhile by another process
(another version) is never taken; a state enters the cache only once its transaction has
committed.

A writer *takes* the state out of the cache (merging changes it in place), so two transactions
never share one; it is put back, under its new version, after the commit. The rendered view goes
with it: a write renders again only the sections it changed.
"""

from __future__ import annotations

from typing import Any

from gateway.caches import BoundedLRU
from gateway.notebooks.view import Rendered

#: A committed state and its view, rendered.
Entry = tuple[dict[str, Any], Rendered | None]


class StateCache:
    """A bounded, thread-safe LRU of ``carnet_id → (version, state, rendered view)``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: BoundedLRU[str, tuple[int, Entry]] = BoundedLRU(capacity)

    def take(self, carnet_id: str, version: int) -> Entry | None:
        """The state of ``carnet_id`` at ``version`` and its rendered view, removed from
        the cache; None otherwise."""
        entry = self._entries.pop(carnet_id)
        if entry is None or entry[0] != version:
            return None
        return entry[1]

    def keep(
        self,
        carnet_id: str,
        version: int,
        state: dict[str, Any],
        rendered: Rendered | None,
    ) -> None:
        """Remember ``state``, rendered as ``rendered``, as the committed ``version`` of
        ``carnet_id``."""
        self._entries.put(carnet_id, (version, (state, rendered)))

    def __len__(self) -> int:
        return len(self._entries)
