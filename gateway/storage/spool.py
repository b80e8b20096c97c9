"""The access journal's spool, for an embedded database whose write lock another connection
holds (another process's import, a backup): a read's journal entry is made durable in a file
beside the database (appended, flushed to disk) and the read is answered; the entries are moved
into the ``journal`` table as soon as the lock is free, and at the next start if the process
stopped before. A read thus never waits for a writer, and no access goes unjournaled.

Entries hold ids, codes and times only (no personal data), like the table.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.storage.database import Database
from gateway.storage.tables import JournalEntry


class JournalSpool:
    """The spool of one database file (``<database>.journal-attente``)."""

    def __init__(self, database: Database, path: Path) -> None:
        self.database = database
        self.path = path
        #: Entries taken from the spool, being moved into the table (kept until they are).
        self.taken = path.with_name(path.name + ".transfert")
        self._appending = threading.Lock()
        self._moving = threading.Lock()

    @classmethod
    def of(cls, database: Database) -> JournalSpool | None:
        """The spool of an embedded database file (None for others: their writers never hold
        the reads' journal)."""
        found = database.file
        if database.dialect != "sqlite" or found is None:
            return None
        return cls(database, found.with_name(found.name + ".journal-attente"))

    @property
    def pending(self) -> bool:
        """Are entries waiting to be moved into the table?"""
        return self.path.exists() or self.taken.exists()

    def append(self, entries: list[dict[str, Any]]) -> None:
        """Make ``entries`` durable (one JSON line each, flushed to disk)."""
        lines = b"".join(orjson.dumps(entry) + b"\n" for entry in entries)
        with self._appending:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(descriptor, lines)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def move(self) -> int:
        """Move the spooled entries into the journal table, waiting for the write lock (on the
        caller's thread); how many were moved. A failure leaves them for the next move."""
        moved = 0
        with self._moving:
            while True:
                if not self.taken.exists():
                    with self._appending:
                        if not self.path.exists():
                            return moved
                        self.path.rename(self.taken)
                entries = [_entry(line) for line in self.taken.read_bytes().splitlines() if line]
                if entries:
                    table = JournalEntry.__table__  # type: ignore[attr-defined]
                    self.database.insert_rows(table, entries)
                self.taken.unlink()
                moved += len(entries)


def _entry(line: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = orjson.loads(line)
    entry["horodatage"] = datetime.fromisoformat(entry["horodatage"])
    return entry
