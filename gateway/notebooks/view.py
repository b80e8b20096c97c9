"""The consolidated view of a notebook, rendered from its stored state at write time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.notebooks.merge import COLLECTIONS, chronological, iter_items, resolve
from referential import Validator


def render(
    *,
    carnet_id: str,
    version: int,
    territoire: str,
    cree_le: datetime,
    modifie_le: datetime,
    state: Mapping[str, Any],
    validator: Validator,
) -> dict[str, Any]:
    """The notebook as partners read it: the data, the provenance of each unit, code labels.

    The NIR is a restricted field: it is used to recognise the person, never returned.
    """
    view: dict[str, Any] = {
        "id": carnet_id,
        "version": version,
        "territoire": territoire,
        "version_referentiel": validator.version,
        "cree_le": _iso(cree_le),
        "modifie_le": _iso(modifie_le),
    }
    provenance: dict[str, Any] = {}
    for pointer, unit in state["unites"].items():
        if pointer == "/personne/nir":
            continue
        parts = pointer.strip("/").split("/")
        node = view
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = unit["v"]
        provenance[pointer] = resolve(state, unit["p"])
    collections: Mapping[str, Any] = state["collections"]
    for path in COLLECTIONS:
        items = list(iter_items(state, collections.get(path, {})))
        if path in CONSOLIDATED:
            items = consolidated(items, CONSOLIDATED[path])
        if not items:
            continue
        parts = path.strip("/").split("/")
        node = view
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = items
    axes = []
    for path, records in collections.items():
        if path.startswith("/axes/"):
            objectifs = list(iter_items(state, records))
            if objectifs:
                axes.append({"theme": path.split("/")[2], "objectifs": objectifs})
    if axes:
        view["axes"] = axes
    if "evenements" in view:
        # In time order: the timestamps may carry different offsets.
        view["evenements"].sort(key=lambda event: (_instant(event["date"]), event["id"]))
    view["provenance"] = provenance
    view["libelles"] = labels(view, validator)
    return view


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


def labels(view: Mapping[str, Any], validator: Validator) -> dict[str, dict[str, str]]:
    """Label of every code in the view, by list."""
    found: dict[str, dict[str, str]] = {}
    for code, liste in validator.codes_in("carnet", view):
        label = validator.referential.label(liste, code)
        if label is not None:
            found.setdefault(liste, {})[code] = label
    return found


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
