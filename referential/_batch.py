"""Batches of payloads (NDJSON, one payload per line), in bounded memory.

:class:`LineSplitter` cuts a byte stream into numbered lines without ever holding more than one
line (and refuses a line longer than its limit without buffering it); :class:`BatchReport`
tallies the reports of the lines and groups their findings: one group per identical finding
(same level, code, pointer, message, expected value and suggestion) with the ranges of lines it
occurs on. The number of groups and of ranges per group are bounded; past the bounds the counts
stay exact and the report says it is truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from referential._findings import Finding, Level, Report
from referential._validation import Validator

#: (level, code, pointer, message, expected, suggestion): what makes two findings the same.
GroupKey = tuple[str, str, str, str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line longer than the splitter's limit (its bytes were dropped as they came)."""

    size: int
    limit: int


class LineSplitter:
    """Cuts chunks of bytes into ``(line number, line)``; blank lines are numbered, not yielded.

    A line of more than ``max_line_bytes`` bytes (end of line excluded) is yielded as
    :class:`TooLong` once its end is reached, and never held in memory.
    """

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._too_long = False
        self._number = 0

    @property
    def lines_seen(self) -> int:
        return self._number

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes | TooLong]]:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._hold(chunk[start:])
                return
            self._hold(chunk[start:end])
            found = self._line()
            if found is not None:
                yield found
            start = end + 1

    def finish(self) -> Iterator[tuple[int, bytes | TooLong]]:
        """The last line, when the stream does not end with a line break."""
        if self._pending or self._too_long:
            found = self._line()
            if found is not None:
                yield found

    def _hold(self, part: bytes) -> None:
        if not part:
            return
        self._pending_size += len(part)
        if self._too_long:
            return
        if self._pending_size > self.max_line_bytes:
            self._too_long = True
            self._pending = []
        else:
            self._pending.append(part)

    def _line(self) -> tuple[int, bytes | TooLong] | None:
        self._number += 1
        size, too_long = self._pending_size, self._too_long
        line = b"".join(self._pending)
        self._pending, self._pending_size, self._too_long = [], 0, False
        if too_long:
            return self._number, TooLong(size, self.max_line_bytes)
        if not line.strip():
            return None
        return self._number, line


@dataclass(slots=True)
class FindingGroup:
    """One finding, and the lines it occurs on (as ranges of consecutive lines)."""

    finding: Finding
    nombre: int = 0
    lignes: list[list[int]] = field(default_factory=list)
    tronque: bool = False

    def add(self, ligne: int, max_ranges: int) -> None:
        self.nombre += 1
        if self.lignes and self.lignes[-1][1] in (ligne, ligne - 1):
            self.lignes[-1][1] = ligne
        elif len(self.lignes) < max_ranges:
            self.lignes.append([ligne, ligne])
        else:
            self.tronque = True

    def to_wire(self) -> dict[str, Any]:
        wire = self.finding.to_wire()
        wire.pop("ligne", None)
        wire["nombre"] = self.nombre
        wire["lignes"] = [list(r) for r in self.lignes]
        if self.tronque:
            wire["lignes_tronquees"] = True
        return wire


@dataclass(slots=True)
class BatchReport:
    """The verdict on a batch: counts per line, and the findings grouped over lines."""

    kind: str
    version: str
    max_groups: int = 500
    max_ranges: int = 200
    lines: int = 0
    invalid: int = 0
    error_count: int = 0
    warning_count: int = 0
    truncated: bool = False
    _groups: dict[GroupKey, FindingGroup] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.lines > 0 and self.invalid == 0

    def add(self, report: Report, ligne: int) -> None:
        """Tally the report of the payload on line ``ligne`` (lines come in increasing order)."""
        self.lines += 1
        self.invalid += not report.valid
        self.error_count += len(report.errors)
        self.warning_count += len(report.warnings)
        for finding in report.errors:
            self._group(finding, "erreur", ligne)
        for finding in report.warnings:
            self._group(finding, "avertissement", ligne)

    def add_line(self, validator: Validator, ligne: int, line: bytes | TooLong) -> Report:
        """Validate and tally the line ``ligne`` of a :class:`LineSplitter`."""
        if isinstance(line, TooLong):
            limit = f"{line.limit} octets au plus"
            report = Report(kind=self.kind, version=self.version)
            report.errors.append(
                Finding(
                    pointer="",
                    code="ligne_trop_longue",
                    message=f"Ligne trop longue : un contenu fait au plus {line.limit} octets.",
                    attendu=limit,
                    ligne=ligne,
                )
            )
        else:
            report = validator.check(self.kind, line, ligne=ligne)
        self.add(report, ligne)
        return report

    def _group(self, finding: Finding, level: Level, ligne: int) -> None:
        key: GroupKey = (
            level,
            finding.code,
            finding.pointer,
            finding.message,
            finding.attendu,
            finding.suggestion,
        )
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self.max_groups:
                self.truncated = True
                return
            group = self._groups[key] = FindingGroup(finding)
        group.add(ligne, self.max_ranges)
        if group.tronque:
            self.truncated = True

    def groups(self, level: Level) -> list[FindingGroup]:
        """The groups of one level, by first line, then pointer and code."""
        found = [g for key, g in self._groups.items() if key[0] == level]
        return sorted(found, key=lambda g: (g.lignes[0][0], g.finding.pointer, g.finding.code))

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "version_referentiel": self.version,
            "valide": self.valid,
            "nombre_lignes": self.lines,
            "lignes_valides": self.lines - self.invalid,
            "lignes_invalides": self.invalid,
            "nombre_erreurs": self.error_count,
            "nombre_avertissements": self.warning_count,
            "erreurs": [g.to_wire() for g in self.groups("erreur")],
            "avertissements": [g.to_wire() for g in self.groups("avertissement")],
            "tronque": self.truncated,
        }
