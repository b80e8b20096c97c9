"""The access journal of reads, committed in groups.

A write journals its access in its own transaction. A read has no transaction of its own: its
entry must be committed before the answer leaves (a journal that cannot be written fails the
read), and one write transaction per read would make every read a writer. Reads therefore wait
for their entry in a *group commit*: entries queued while a commit runs are written together by
the next one, so the journal costs one transaction per burst of reads, not per read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway import pagination, threads
from gateway.errors import ProblemError
from gateway.storage.database import Database, WriterBusy
from gateway.storage.spool import JournalSpool
from gateway.storage.tables import JournalEntry

#: The journal outcome of each notebook a search or a feed page named (beside the entry of the
#: search or page itself).
LISTED = "liste"

logger = logging.getLogger(__name__)


class JournalUnavailable(ProblemError):
    status = 503
    code = "journal_indisponible"
    title = "Le journal des accès ne peut pas être écrit : la lecture est refusée."


#: How long a read's journal entries wait for an embedded database's write lock before they
#: are spooled (``gateway/storage/spool.py``): a read never waits for a long writer.
SPOOL_AFTER_SECONDS = 0.05


class AccessJournal:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flushing = False
        self.spool = JournalSpool.of(database)
        self._moves: set[asyncio.Task[int]] = set()

    async def record(self, entry: dict[str, Any]) -> None:
        """Return once ``entry`` is committed; JournalUnavailable if it cannot be."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                entries = [entry for entry, _ in batch]
                try:
                    await self._commit(entries)
                except Exception:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(JournalUnavailable())
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flushing = False

    async def _commit(self, entries: list[dict[str, Any]]) -> None:
        """Write the entries in one transaction.

        An embedded database with no write running takes them at once on the event loop's
        thread (a short insert): a worker thread would wait for the busy loop to hand over the
        interpreter lock at each step, and the reads with it. Otherwise a worker thread of the
        journal's own pool waits for its turn — on an embedded database a moment only: if the
        write lock stays held (another process's long transaction), the entries are spooled,
        durably, and moved into the table once the lock is free.
        """
        if self.database.embedded:
            try:
                self._write(entries, wait=False)
                return
            except WriterBusy:
                pass
        if self.spool is None:
            await threads.run("journal", threads.JOURNAL, self._write, entries)
        elif not await threads.run("journal", threads.JOURNAL, self._write_or_spool, entries):
            self._move_later()

    def _write(self, entries: list[dict[str, Any]], *, wait: bool | float = True) -> None:
        self.database.insert_rows(JournalEntry.__table__, entries, wait=wait)  # type: ignore[attr-defined]

    def _write_or_spool(self, entries: list[dict[str, Any]]) -> bool:
        """Write the entries, or spool them if the write lock stays held; whether written."""
        assert self.spool is not None
        if not self.spool.pending:
            try:
                self._write(entries, wait=SPOOL_AFTER_SECONDS)
                return True
            except WriterBusy:
                pass
        # Behind the entries already waiting (the lock is still held, most likely).
        self.spool.append(entries)
        return False

    def _move_later(self) -> None:
        """Move the spooled entries into the table on a thread of their own, once the write
        lock is free (a failure leaves them for the next move, or the next start)."""
        spool = self.spool
        assert spool is not None
        task = asyncio.get_running_loop().create_task(threads.run("journal-attente", 1, spool.move))
        self._moves.add(task)
        task.add_done_callback(self._moved)

    def _moved(self, task: asyncio.Task[int]) -> None:
        self._moves.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("journal : entrées en attente non transférées (nouvel essai plus tard)")

    async def settle(self) -> int:
        """Wait for the spooled entries to be in the table; how many were moved (at a stop,
        and for tests)."""
        moved = sum(await asyncio.gather(*self._moves)) if self._moves else 0
        if self.spool is not None:
            moved += await threads.run("journal-attente", 1, self.spool.move)
        return moved


def journal_wire(entry: JournalEntry, readable: frozenset[str] | None = None) -> dict[str, Any]:
    """A journal entry as the API gives it (its categories limited to ``readable``, when
    given: a journal never tells a caller which categories of data a notebook holds that it
    may not read)."""
    categories = entry.categories
    if readable is not None:
        categories = [c for c in categories if c in readable]
    return {
        "seq": entry.seq,
        "horodatage": entry.horodatage.isoformat().replace("+00:00", "Z"),
        "client_id": entry.client_id,
        "organisation_id": entry.organisation_id,
        "type_acteur": entry.type_acteur,
        "carnet_id": entry.carnet_id,
        "action": entry.action,
        "categories": categories,
        "finalite": entry.finalite,
        "resultat": entry.resultat,
        "agent": entry.agent,
    }


def journal_page(
    page_type: Any,
    params: Any,
    entries: list[JournalEntry],
    readable: frozenset[str] | None = None,
) -> Any:
    """One page of the journal from the ``limite + 1`` entries read after its cursor (see
    :mod:`gateway.pagination`)."""
    return pagination.from_rows(
        page_type, params, entries, lambda e: e.seq, lambda e: journal_wire(e, readable)
    )
