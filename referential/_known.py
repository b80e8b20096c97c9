"""Sections already found valid, kept with their data so that a payload repeating them is not
validated again in full.

Partners send whole files: most sections of a contribution are those the same partner sent
the time before. The sections of a payload are validated independently of one another (no rule
spans two of them), so a section whose exact content was found valid, without any finding,
under the same validator and kind is valid again, with the same data. See
:meth:`referential.Validator.validate_data`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

#: What :meth:`KnownSections.get` answers for a section whose data is its content as sent.
AS_SENT = b""

#: A section's identity: the validator, the payload kind, the section's name and its content
#: (orjson's serialisation of the parsed section).
Key = tuple[Any, str, str, bytes]


class KnownSections:
    """A bounded, thread-safe LRU of ``section → its valid data as JSON``, by total size.

    Each entry costs its content and its data (the data is not stored twice when it is the
    content itself); entries past ``capacity`` bytes in all are forgotten, oldest used first.

    Looking a payload's sections up and remembering them costs about half a validation when
    none is known: after ``patience`` payloads in a row without a known section, only one
    payload in :attr:`SAMPLE` is looked up (and remembered), until one has a known section
    again (None: every payload is).
    """

    #: One payload in this many is looked up while payloads bring no known section.
    SAMPLE = 16

    def __init__(self, capacity: int, *, patience: int | None = 32) -> None:
        self.capacity = capacity
        self.patience = patience
        self._unknown_in_a_row = 0
        self._payloads = 0
        self._entries: OrderedDict[Key, bytes | None] = OrderedDict()
        self._size = 0
        self._mutex = threading.Lock()
        #: Sections found known so far.
        self.hits = 0

    def get(self, key: Key) -> bytes | None:
        """The data of a known section as JSON, or :data:`AS_SENT` when it is the section's
        content itself; None when the section is not known."""
        with self._mutex:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            data = self._entries[key]
            self.hits += 1
        return AS_SENT if data is None else data

    def put(self, key: Key, data: bytes) -> None:
        """Remember that the section ``key`` is valid, with ``data`` as its JSON data."""
        stored = None if data == key[3] else data
        size = _size(key, stored)
        if size > self.capacity:
            return
        with self._mutex:
            if key in self._entries:
                self._size -= _size(key, self._entries.pop(key))
            self._entries[key] = stored
            self._size += size
            while self._size > self.capacity:
                old, old_data = self._entries.popitem(last=False)
                self._size -= _size(old, old_data)

    def worth_looking(self) -> bool:
        """Whether to look the sections of the next payload up (see the class)."""
        self._payloads += 1
        return (
            self.patience is None
            or self._unknown_in_a_row < self.patience
            or self._payloads % self.SAMPLE == 0
        )

    def looked(self, found: bool) -> None:
        """Record whether the payload looked up had a known section."""
        self._unknown_in_a_row = 0 if found else self._unknown_in_a_row + 1

    @property
    def size(self) -> int:
        """The bytes held (contents and data)."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)


def _size(key: Key, data: bytes | None) -> int:
    return len(key[3]) + (0 if data is None else len(data))
