"""What changes between two versions of the referential: added, renamed, merged, split,
deprecated and retired codes.

A code *changes* between ``de`` and ``a`` when it is published in ``de`` and, in ``a``, is
deprecated (and was not in ``de``) or no longer published. Each changed code is listed once as
``deprecies`` or ``retires``, with what replaces it in ``a`` (its ``remplace_par`` followed
through every intermediate deprecation); the replacements then say what happened: one code
replaced by several is a split; several codes replaced by one, or one code replaced by a code
that already existed in ``de``, is a merge; one code replaced by one new code is a rename.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from referential._referential import Entry, Referential, version_key


class VersionOrderError(ValueError):
    """``de`` comes after ``a``, or one of them is not a published version."""


@dataclass(frozen=True, slots=True)
class CodeChange:
    liste: str
    code: str
    libelle: str
    remplace_par: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"liste": self.liste, "code": self.code, "libelle": self.libelle}
        if self.remplace_par:
            wire["remplace_par"] = list(self.remplace_par)
        return wire


@dataclass(frozen=True, slots=True)
class Replacement:
    """Codes of ``de`` and the codes of ``a`` that replace them."""

    liste: str
    codes: tuple[str, ...]
    vers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VersionDiff:
    de: str
    a: str
    ajoutes: tuple[CodeChange, ...]
    renommes: tuple[Replacement, ...]
    fusionnes: tuple[Replacement, ...]
    scindes: tuple[Replacement, ...]
    deprecies: tuple[CodeChange, ...]
    retires: tuple[CodeChange, ...]

    @property
    def empty(self) -> bool:
        return not (self.ajoutes or self.deprecies or self.retires)

    def to_wire(self) -> dict[str, Any]:
        return {
            "de": self.de,
            "a": self.a,
            "ajoutes": [c.to_wire() for c in self.ajoutes],
            "renommes": [
                {"liste": r.liste, "code": r.codes[0], "remplace_par": r.vers[0]}
                for r in self.renommes
            ],
            "fusionnes": [
                {"liste": r.liste, "codes": list(r.codes), "remplace_par": r.vers[0]}
                for r in self.fusionnes
            ],
            "scindes": [
                {"liste": r.liste, "code": r.codes[0], "remplace_par": list(r.vers)}
                for r in self.scindes
            ],
            "deprecies": [c.to_wire() for c in self.deprecies],
            "retires": [c.to_wire() for c in self.retires],
        }


def diff(referential: Referential, de: str, a: str) -> VersionDiff:
    """The changes from version ``de`` to the later (or same) version ``a``."""
    for version in (de, a):
        if version not in referential.versions:
            raise VersionOrderError(f"version inconnue {version!r}")
    if version_key(de) > version_key(a):
        raise VersionOrderError(f"{de} est postérieure à {a}")
    added: list[CodeChange] = []
    deprecated: list[CodeChange] = []
    retired: list[CodeChange] = []
    by_target: dict[tuple[str, str], list[str]] = {}
    splits: list[Replacement] = []
    for entry in _entries(referential):
        if entry.published_in(a) and not entry.published_in(de):
            added.append(CodeChange(entry.liste, entry.code, entry.libelle))
            continue
        if not entry.published_in(de):
            continue
        gone = not entry.published_in(a)
        if not gone and (entry.deprecated_in(de) or not entry.deprecated_in(a)):
            continue
        found = referential.translation(entry.liste, entry.code, a)
        targets = found.vers if found else ()
        change = CodeChange(entry.liste, entry.code, entry.libelle, targets)
        (retired if gone else deprecated).append(change)
        if len(targets) > 1:
            splits.append(Replacement(entry.liste, (entry.code,), targets))
        elif targets:
            by_target.setdefault((entry.liste, targets[0]), []).append(entry.code)
    renamed: list[Replacement] = []
    merged: list[Replacement] = []
    for (liste, target), codes in by_target.items():
        existing = referential.list_entry(liste, target)
        replacement = Replacement(liste, tuple(codes), (target,))
        if len(codes) > 1 or (existing is not None and existing.published_in(de)):
            merged.append(replacement)
        else:
            renamed.append(replacement)
    return VersionDiff(
        de=de,
        a=a,
        ajoutes=tuple(added),
        renommes=tuple(renamed),
        fusionnes=tuple(merged),
        scindes=tuple(splits),
        deprecies=tuple(deprecated),
        retires=tuple(retired),
    )


def _entries(referential: Referential) -> Iterator[Entry]:
    """Every entry, list by list (in the referential's order), by code."""
    for liste in referential.lists.values():
        yield from sorted(liste.entries, key=lambda e: e.code)
