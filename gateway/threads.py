"""Blocking database work off the event loop, in bounded pools of threads of its own.

Writes that wait (on a locked notebook, on SQLite's write lock) must hold neither the event
loop nor every thread and connection: they queue as coroutines before a pool of a few threads,
and the access journal has its own, so that a read's journal entry never waits behind them.
The sizes leave most of the database pool (``gateway/storage/database.py``) to the reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread

T = TypeVar("T")

#: Threads writing at once (PostgreSQL; SQLite's writers take turns on one lock anyway).
WRITERS = {"postgresql": 8, "sqlite": 2}
#: Threads committing the access journal.
JOURNAL = 2

_limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, anyio.CapacityLimiter]] = (
    WeakKeyDictionary()
)


def _limiter(name: str, size: int) -> anyio.CapacityLimiter:
    """The pool ``name`` of the running event loop (a limiter belongs to one loop)."""
    by_name = _limiters.setdefault(asyncio.get_running_loop(), {})
    found = by_name.get(name)
    if found is None:
        found = by_name[name] = anyio.CapacityLimiter(size)
    return found


async def run(pool: str, size: int, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on a thread of the pool ``pool`` (at most ``size`` at once)."""
    return await anyio.to_thread.run_sync(partial(function, *args), limiter=_limiter(pool, size))
