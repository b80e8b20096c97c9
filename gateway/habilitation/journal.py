"""The access journal of reads, committed in groups.

A write journals its access in its own transaction. A read has no transaction of its own: its
entry must be committed before the answer leaves (a journal that cannot be written fails the
read), and one write transaction per read would make every read a writer. Reads therefore wait
for their entry in a *group commit*: entries queued while a commit runs are written together by
the next one, so the journal costs one transaction per burst of reads, not per read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from gateway import pagination
from gateway.errors import ProblemError
from gateway.storage.database import Database, WriterBusy
from gateway.storage.tables import JournalEntry

#: The journal outcome of each notebook a search or a feed page named (beside the entry of the
#: search or page itself).
LISTED = "liste"


class JournalUnavailable(ProblemError):
    status = 503
    code = "journal_indisponible"
    title = "Le journal des accès ne peut pas être écrit : la lecture est refusée."


class AccessJournal:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flushing = False

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
        interpreter lock at each step, and the reads with it. Otherwise a worker thread waits
        for its turn.
        """
        if self.database.embedded:
            try:
                self._write(entries, wait=False)
                return
            except WriterBusy:
                pass
        await run_in_threadpool(self._write, entries)

    def _write(self, entries: list[dict[str, Any]], *, wait: bool = True) -> None:
        self.database.insert_rows(JournalEntry.__table__, entries, wait=wait)  # type: ignore[attr-defined]


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
