"""The consolidated view of a notebook, rendered from its stored state at write time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.habilitation.categories import classify
from gateway.notebooks.labels import labels
from gateway.notebooks.merge import COLLECTIONS, chronological, iter_items, resolve
from referential import Validator
from referential.models import SECTIONS

#: The collections of each section.
SECTION_COLLECTIONS: dict[str, tuple[str, ...]] = {
    section: tuple(path for path in COLLECTIONS if path.split("/")[1] == section)
    for section in SECTIONS
}


@dataclass(frozen=True, slots=True)
class Fragment:
    """One section of a view, rendered: its value (None when empty) and the same as JSON, the
    provenance of its units as JSON members (``"pointer":{…}`` without the object's braces), the
    labels of its codes and the data categories it holds. A view is assembled from the JSON of
    its sections, never dumped whole."""

    value: Any
    value_json: bytes
    provenance_json: bytes
    labels: dict[str, dict[str, str]]
    categories: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rendered:
    """A view in the pieces it is stored as: its head (members, without the braces), the
    labels of its codes (JSON), the data categories it holds and its sections."""

    head: bytes
    libelles: bytes
    categories: list[str]
    fragments: Mapping[str, Fragment]

    @property
    def json(self) -> bytes:
        """The whole view, as served."""
        return assemble(
            self.head,
            (
                (section, fragment.value_json, fragment.provenance_json)
                for section, fragment in self.fragments.items()
                if fragment.value is not None
            ),
            self.libelles,
        )


#: Each section's place in a view.
SECTION_RANK = {section: rank for rank, section in enumerate(SECTIONS)}
#: What comes before each section's value in a view.
_SECTION_KEYS = {section: b',"%s":' % section.encode() for section in SECTIONS}


def assemble(head: bytes, sections: Iterable[tuple[str, bytes, bytes]], libelles: bytes) -> bytes:
    """A view from its pieces: the head's members, then each section shown (name, value,
    provenance members) in the order of :data:`SECTION_RANK`, then ``provenance`` (the
    sections' pointers never collide) and ``libelles``. One copy of the pieces."""
    pieces = [b"{", head]
    provenance = [b',"provenance":{']
    for section, value, provenance_json in sections:
        pieces.append(_SECTION_KEYS[section])
        pieces.append(value)
        if provenance_json:
            if len(provenance) > 1:
                provenance.append(b",")
            provenance.append(provenance_json)
    pieces += provenance
    pieces.append(b'},"libelles":')
    pieces.append(libelles)
    pieces.append(b"}")
    return b"".join(pieces)


def render(
    *,
    carnet_id: str,
    version: int,
    territoire: str,
    cree_le: datetime,
    modifie_le: datetime,
    state: Mapping[str, Any],
    validator: Validator,
    previous: Rendered | None = None,
    changed: Iterable[str] = (),
) -> Rendered:
    """The notebook as partners read it: the data, the provenance of each unit, code labels.

    Each section is rendered on its own: its data, provenance, labels and categories depend on
    its part of the state alone. Given the ``previous`` rendering of the state, only the
    sections ``changed`` since are rendered again (and the labels merged again only when
    theirs changed). The NIR is a restricted field: it is used to recognise the person,
    never returned.
    """
    again = set(SECTIONS) if previous is None else set(changed)
    units = _units_by_section(state["unites"]) if again else {}
    fragments = {
        section: (
            _fragment(section, units.get(section, ()), state, validator)
            if previous is None or section in again
            else previous.fragments[section]
        )
        for section in SECTIONS
    }
    head = {
        "id": carnet_id,
        "version": version,
        "territoire": territoire,
        "version_referentiel": validator.version,
        "cree_le": _iso(cree_le),
        "modifie_le": _iso(modifie_le),
    }
    categories: set[str] = set()
    for fragment in fragments.values():
        categories |= fragment.categories
    if previous is not None and all(
        fragments[section].labels == previous.fragments[section].labels for section in again
    ):
        libelles = previous.libelles
    else:
        found: dict[str, dict[str, str]] = {}
        for fragment in fragments.values():
            for liste, codes in fragment.labels.items():
                found.setdefault(liste, {}).update(codes)
        libelles = orjson.dumps(found)
    return Rendered(
        head=orjson.dumps(head)[1:-1],
        libelles=libelles,
        categories=sorted(categories),
        fragments=fragments,
    )


def _units_by_section(units: Mapping[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for pointer, unit in units.items():
        if pointer != "/personne/nir":
            grouped.setdefault(pointer.split("/", 2)[1], []).append((pointer, unit))
    return grouped


def _fragment(
    section: str,
    units: Iterable[tuple[str, Any]],
    state: Mapping[str, Any],
    validator: Validator,
) -> Fragment:
    """One section of the view, from the state."""
    holder: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for pointer, unit in units:
        _place(holder, pointer, unit["v"])
        provenance[pointer] = resolve(state, unit["p"])
    collections: Mapping[str, Any] = state["collections"]
    for path in SECTION_COLLECTIONS[section]:
        items = list(iter_items(state, collections.get(path, {})))
        if path in CONSOLIDATED:
            items = consolidated(items, CONSOLIDATED[path])
        if items:
            _place(holder, path, items)
    if section == "axes":
        axes = []
        for path, records in collections.items():
            if path.startswith("/axes/"):
                objectifs = list(iter_items(state, records))
                if objectifs:
                    axes.append({"theme": path.split("/")[2], "objectifs": objectifs})
        if axes:
            holder["axes"] = axes
    if section == "evenements" and "evenements" in holder:
        # In time order: the timestamps may carry different offsets.
        holder["evenements"].sort(key=lambda event: (_instant(event["date"]), event["id"]))
    if section not in holder:
        return Fragment(None, b"null", b"", {}, frozenset())
    return Fragment(
        value=holder[section],
        value_json=orjson.dumps(holder[section]),
        provenance_json=orjson.dumps(provenance)[1:-1],
        labels=labels(holder, validator),
        categories=frozenset(category for _, category in classify(holder, validator.referential)),
    )


def _place(holder: dict[str, Any], pointer: str, value: Any) -> None:
    """Set ``value`` at ``pointer`` of ``holder``, making the objects on the way."""
    parts = pointer.strip("/").split("/")
    node = holder
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


#: Collections whose items several sources may assert, shown once with every provenance: path
#: → the fields that make two sources' items one (a situation is its code).
CONSOLIDATED: dict[str, tuple[str, ...]] = {"/diagnostic/situations": ("code",)}


def consolidated(items: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """``items`` with those that several sources assert (same ``key``) shown once.

    Each source still holds its own item (it updates or closes it alone); the view shows the
    values of the latest observation with its ``provenance``, and in ``provenances`` that of
    every source asserting it, oldest observation first (sources observed at the same time in
    the order of their keys). An item asserted by one source only
    is left as it is.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(tuple(item.get(name) for name in key), []).append(item)
    shown = []
    for group in groups.values():
        if len(group) == 1:
            shown.append(group[0])
            continue
        # By observation, then by source: the same view whatever order they arrived in.
        group.sort(
            key=lambda item: (
                chronological(item["provenance"]["observe_le"]),
                item["provenance"]["source"],
            )
        )
        latest = dict(group[-1])
        latest["provenances"] = [item["provenance"] for item in group]
        shown.append(latest)
    return shown


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
