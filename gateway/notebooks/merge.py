"""Merging a contribution into a notebook, with per-field and per-item provenance.

Pure functions on JSON-ready dicts; nothing here touches the database.

The stored state of a notebook is::

    {"unites": {pointer: {"v": value, "p": provenance_id}},
     "collections": {path: {item_key: {"v": item, "p": provenance_id, "supprime": bool,
                                       "actions": {item_key: {...}}}}}}

    "provenances": {provenance_id: provenance}, "prochaine": next provenance id,
     "empreintes": {source: {section: [digest of its last contribution, its observation,
                                       the pointers refused as repetitions]}}}

One provenance is recorded per contribution that changed something, and units and items refer
to it: the state does not repeat it on every value. (States written before this carried the
provenance inline; they are read as such.)

A *unit* is a field (or a small group of fields that only make sense together, such as the RSA
right or the contract) whose value is replaced as a whole. A *collection* holds items keyed by
``(source, the source's own id)`` or by a natural key (a situation's code); a source only ever
touches its own items, and an item disappears only through an explicit tombstone or status.

Rules:

- an older observation never overwrites a newer one (``ignore_obsolete``);
- for the units listed in ``gateway/data/autorite.yaml``, an authoritative source wins over the
  others whatever the dates, and the others cannot overwrite it (``source_non_autoritaire``);
- ``null`` clears a unit only when the value came from the same source;
- absence never removes anything; events are append-only and deduplicated on ``(source, id)``.

Partners resend whole files. A section made of collections alone (the diagnostic, the axes,
the follow-up group, the appointments, the events) holds, for each source, only what that
source sent: after a contribution whose every item of the section was applied, found
unchanged or refused as a repetition within the contribution, the source's items are exactly
that section's, observed at most then. So when the source sends the same section again (same
digest), observed no earlier, every item is unchanged but the same repetitions: the section is
not merged again, and its pointers are reported as the merge would. The digests
(``empreintes``) are a derived index of the state, never needed to read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

#: Sections made of units, and the units of each (a unit is replaced as a whole).
UNIT_SECTIONS: dict[str, tuple[str, ...]] = {
    "personne": ("nom", "prenom", "nom_naissance", "date_naissance", "lieu_naissance", "nir"),
    "coordonnees": ("adresse", "telephones", "courriel"),
    "droits": ("rsa", "are", "ass", "prime_activite"),
    "situation": (
        "situation_professionnelle",
        "niveau_formation",
        "date_fin_dernier_emploi",
        "rqth",
        "sans_domicile_fixe",
    ),
}
IDENTIFIER_UNITS = ("caf_msa", "france_travail", "si_departement")
#: Sections replaced as a whole.
WHOLE_SECTIONS = ("contrat", "orientation")
#: Collections: path in the payload → how an item is keyed when it has no ``id``.
COLLECTIONS: dict[str, tuple[str, ...]] = {
    "/situation/projets_professionnels": ("code_rome", "appellation"),
    "/diagnostic/situations": ("code",),
    "/accompagnement/groupe_suivi": ("role", "organisation", "professionnel"),
    "/rendez_vous": (),
    "/evenements": (),
}
#: Sections made of collections alone (the merge of a section sent again as it was is skipped).
RESENDABLE = ("diagnostic", "accompagnement", "rendez_vous", "evenements", "axes")
OBJECTIVE_KEY = ("code",)
REPEATED = "element_en_double"
REPEATED_MESSAGE = "Cet élément figure déjà dans la contribution (même identifiant ou même clé)."
ACTION_KEY = ("code", "libelle")
APPEND_ONLY = frozenset({"/evenements"})


@dataclass(frozen=True, slots=True)
class Source:
    """Who contributes: an organisation through one of its clients, or a connector."""

    key: str
    type_acteur: str
    client: str | None = None


@dataclass(slots=True)
class Outcome:
    """What a contribution did, per pointer into the request body."""

    appliques: list[str] = field(default_factory=list)
    inchanges: list[str] = field(default_factory=list)
    ignores_obsoletes: list[str] = field(default_factory=list)
    refuses: list[dict[str, str]] = field(default_factory=list)
    sections: set[str] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(self.appliques)

    def refuse(self, pointer: str, code: str, message: str) -> None:
        self.refuses.append({"pointer": pointer, "code": code, "message": message})

    def to_wire(self) -> dict[str, Any]:
        return {
            "appliques": self.appliques,
            "inchanges": self.inchanges,
            "ignores_obsoletes": self.ignores_obsoletes,
            "refuses": self.refuses,
        }


@cache
def authority() -> Mapping[str, tuple[str, ...]]:
    path = Path(str(resources.files("gateway") / "data" / "autorite.yaml"))
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {unit: tuple(kinds) for unit, kinds in raw["unites"].items()}


def _rank(unit: str, type_acteur: str) -> int:
    kinds = authority().get(unit, ())
    return kinds.index(type_acteur) if type_acteur in kinds else len(kinds)


def empty_state() -> dict[str, Any]:
    return {"unites": {}, "collections": {}}


def chronological(timestamp: str) -> str:
    """A stored timestamp (UTC as ``isoformat`` writes it: ``…T12:00:00Z``, or
    ``…T12:00:00.500000Z`` with a fraction) in a form whose string order is the time order."""
    return timestamp[:19] + ".000000Z" if len(timestamp) == 20 else timestamp


def provenance(source: Source, observe_le: str, recu_le: str) -> dict[str, Any]:
    prov: dict[str, Any] = {"source": source.key, "type_acteur": source.type_acteur}
    if source.client:
        prov["client"] = source.client
    prov["observe_le"] = observe_le
    prov["recu_le"] = recu_le
    return prov


class Merger:
    """Applies one contribution (a validated, JSON-ready dict) to a notebook state in place."""

    def __init__(
        self,
        state: dict[str, Any],
        source: Source,
        observe_le: str,
        recu_le: str,
        *,
        resent: bool = True,
        restamp: frozenset[str] = frozenset(),
    ):
        self.state = state
        #: Units recorded as this source's even when it sends the value they hold (see
        #: :func:`merge`).
        self.restamp = restamp
        #: Whether sections sent again as they were are recognised (see the module).
        self.resent = resent
        self.source = source
        self.observe_le = observe_le
        self._observed = chronological(observe_le)
        self._prov = provenance(source, observe_le, recu_le)
        self._prov_id: str | None = None
        self.outcome = Outcome()
        self._seen: set[tuple[int, str]] = set()
        #: Observation times of the provenances met, by id, in chronological form.
        self._observations: dict[str, str] = {}

    # -- entry point ---------------------------------------------------------------------------

    def apply(self, contribution: Mapping[str, Any]) -> Outcome:
        for section, units in UNIT_SECTIONS.items():
            body = contribution.get(section)
            if body is None:
                continue
            for name in units:
                if name in body:
                    self._unit(f"/{section}/{name}", body[name], section)
            if section == "personne" and body.get("identifiants"):
                for name in IDENTIFIER_UNITS:
                    if name in body["identifiants"]:
                        pointer = f"/personne/identifiants/{name}"
                        self._unit(pointer, body["identifiants"][name], section)
        for section in WHOLE_SECTIONS:
            if section in contribution:
                self._unit(f"/{section}", contribution[section], section)
        for path, natural_key in COLLECTIONS.items():
            items = _at(contribution, path)
            if items:
                section = path.split("/")[1]
                with self._section(section, contribution) as repeated:
                    if repeated is not None:
                        for index in range(len(items)):
                            self._again(f"{path}/{index}", repeated)
                        continue
                    target = self.state["collections"].setdefault(path, {})
                    for index, item in enumerate(items):
                        self._item(target, f"{path}/{index}", item, natural_key, section, path)
        axes = contribution.get("axes")
        if axes:
            with self._section("axes", contribution) as repeated:
                for index, axe in enumerate(axes):
                    if repeated is not None:
                        self._axe_again(index, axe, repeated)
                    else:
                        self._axe(index, axe)
        return self.outcome

    # -- sections sent again -------------------------------------------------------------------

    @contextmanager
    def _section(
        self, section: str, contribution: Mapping[str, Any]
    ) -> Iterator[frozenset[str] | None]:
        """When this source sent ``section`` as it is now, observed no later: yields the
        pointers refused then as repetitions, and nothing is to merge. Otherwise yields None,
        the caller merges the section, and its digest is recorded when no item was obsolete
        nor refused but as a repetition."""
        if not self.resent or section not in RESENDABLE:
            yield None
            return
        digest = _digest(contribution[section])
        previous = self.state.get("empreintes", {}).get(self.source.key, {}).get(section)
        if previous is not None and previous[0] == digest and self._observed >= previous[1]:
            yield frozenset(previous[2])
            return
        ignored, refused = len(self.outcome.ignores_obsoletes), len(self.outcome.refuses)
        yield None
        by_section = self.state.setdefault("empreintes", {}).setdefault(self.source.key, {})
        repeated = [r["pointer"] for r in self.outcome.refuses[refused:] if r["code"] == REPEATED]
        if len(self.outcome.ignores_obsoletes) == ignored and (
            len(repeated) == len(self.outcome.refuses) - refused
        ):
            by_section[section] = [digest, self._observed, repeated]
        else:
            by_section.pop(section, None)

    def _again(self, pointer: str, repeated: frozenset[str]) -> bool:
        """Report an item of a section sent again as the merge did: unchanged, or refused as
        a repetition; whether it was unchanged."""
        if pointer in repeated:
            self.outcome.refuse(pointer, REPEATED, REPEATED_MESSAGE)
            return False
        self.outcome.inchanges.append(pointer)
        return True

    def _axe_again(self, index: int, axe: Mapping[str, Any], repeated: frozenset[str]) -> None:
        """The pointers of an axe sent again as it was, as :meth:`_axe` reports them."""
        for position, objectif in enumerate(axe.get("objectifs") or ()):
            pointer = f"/axes/{index}/objectifs/{position}"
            if self._again(pointer, repeated):
                for rank in range(len(objectif.get("actions") or ())):
                    self._again(f"{pointer}/actions/{rank}", repeated)

    # -- units ---------------------------------------------------------------------------------

    def _unit(self, pointer: str, value: Any, section: str) -> None:
        units: dict[str, Any] = self.state["unites"]
        existing = units.get(pointer)
        if value is None:
            if existing is None:
                self.outcome.inchanges.append(pointer)
            elif self._of(existing)["source"] != self.source.key:
                self.outcome.refuse(
                    pointer,
                    "valeur_d_une_autre_source",
                    "Une source ne peut pas effacer une valeur déposée par une autre source.",
                )
            elif self._older_than(existing):
                self.outcome.ignores_obsoletes.append(pointer)
            else:
                del units[pointer]
                self._applied(pointer, section)
            return
        if existing is not None:
            mine = _rank(pointer, self.source.type_acteur)
            theirs = _rank(pointer, self._of(existing)["type_acteur"])
            if theirs < mine:
                self.outcome.refuse(
                    pointer,
                    "source_non_autoritaire",
                    "Cette donnée est tenue par une source qui fait autorité ; elle n'est pas modifiée.",
                )
                return
            if theirs == mine:
                if self._older_than(existing):
                    self.outcome.ignores_obsoletes.append(pointer)
                    return
                if existing["v"] == value and pointer not in self.restamp:
                    self.outcome.inchanges.append(pointer)
                    return
        units[pointer] = {"v": value, "p": self.prov}
        self._applied(pointer, section)

    # -- collections ---------------------------------------------------------------------------

    def _item(
        self,
        target: dict[str, Any],
        pointer: str,
        item: dict[str, Any],
        natural_key: tuple[str, ...],
        section: str,
        path: str,
    ) -> dict[str, Any] | None:
        key = self.source.key + "|" + item_key(item, natural_key)
        if (id(target), key) in self._seen:
            self.outcome.refuse(pointer, REPEATED, REPEATED_MESSAGE)
            return None
        self._seen.add((id(target), key))
        existing: dict[str, Any] | None = target.get(key)
        value = (
            {k: v for k, v in item.items() if k not in ("supprime", "actions")}
            if "supprime" in item or "actions" in item
            else item
        )
        deleted = bool(item.get("supprime"))
        if existing is not None:
            if path in APPEND_ONLY:
                self.outcome.inchanges.append(pointer)
                return existing
            if self._older_than(existing):
                self.outcome.ignores_obsoletes.append(pointer)
                return None
            if existing["v"] == value and existing.get("supprime", False) == deleted:
                self.outcome.inchanges.append(pointer)
                return existing
            existing["v"] = value
            existing["p"] = self.prov
            existing["supprime"] = deleted
            self._applied(pointer, section)
            return existing
        record: dict[str, Any] = {"v": value, "p": self.prov, "supprime": deleted}
        target[key] = record
        self._applied(pointer, section)
        return record

    def _axe(self, index: int, axe: Mapping[str, Any]) -> None:
        path = f"/axes/{axe['theme']}/objectifs"
        target = self.state["collections"].setdefault(path, {})
        for position, objectif in enumerate(axe.get("objectifs") or ()):
            pointer = f"/axes/{index}/objectifs/{position}"
            record = self._item(target, pointer, objectif, OBJECTIVE_KEY, "axes", path)
            if record is None:
                continue
            actions = record.setdefault("actions", {})
            for rank, action in enumerate(objectif.get("actions") or ()):
                self._item(actions, f"{pointer}/actions/{rank}", action, ACTION_KEY, "axes", path)

    # -- helpers -------------------------------------------------------------------------------

    def _older_than(self, existing: Mapping[str, Any]) -> bool:
        reference = existing["p"]
        if not isinstance(reference, str):
            return self._observed < chronological(reference["observe_le"])
        observed = self._observations.get(reference)
        if observed is None:
            observed = chronological(self.state["provenances"][reference]["observe_le"])
            self._observations[reference] = observed
        return self._observed < observed

    @property
    def prov(self) -> str:
        """The id of this contribution's provenance, recorded at its first applied change."""
        if self._prov_id is None:
            provenances = self.state.setdefault("provenances", {})
            self._prov_id = str(self.state.get("prochaine", 0))
            self.state["prochaine"] = int(self._prov_id) + 1
            provenances[self._prov_id] = self._prov
        return self._prov_id

    def _of(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        return resolve(self.state, record["p"])

    def _applied(self, pointer: str, section: str) -> None:
        self.outcome.appliques.append(pointer)
        self.outcome.sections.add(section)


def item_key(item: Mapping[str, Any], natural_key: tuple[str, ...]) -> str:
    """The source-local key of a collection item: its ``id``, else its natural key."""
    if item.get("id"):
        return "id:" + str(item["id"])
    parts = [_canonical(item.get(name)) for name in natural_key]
    return "cle:" + "|".join(parts)


def _digest(section: Any) -> str:
    return hashlib.blake2b(orjson.dumps(section), digest_size=16).hexdigest()


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _at(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.strip("/").split("/"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def merge(
    state: dict[str, Any],
    contribution: Mapping[str, Any],
    source: Source,
    recu_le: str,
    *,
    resent: bool = True,
    restamp: frozenset[str] = frozenset(),
) -> Outcome:
    """Apply ``contribution`` to ``state`` in place; what was done, per pointer.

    Values of the contribution are stored by reference: the caller hands both over. With
    ``resent`` (the default), sections sent again as they were are not merged again (see the
    module); the outcome and the data are the same either way. The units of ``restamp`` are
    recorded as the source's even when it sends the value they hold: whether it equals what
    the source may not read is no answer to give it.
    """
    merger = Merger(
        state, source, contribution["observe_le"], recu_le, resent=resent, restamp=restamp
    )
    return merger.apply(contribution)


def section_of(pointer: str) -> str:
    """The section of a unit's pointer or of a collection's path."""
    return pointer.split("/", 2)[1]


def state_parts(
    state: Mapping[str, Any], sections: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The parts of ``state`` by section (of ``sections`` only, when given), as stored:
    ``{"unites": {...}, "collections": {...}}``; a section holding nothing has no part."""
    wanted = None if sections is None else set(sections)
    parts: dict[str, dict[str, Any]] = {}
    for kind in ("unites", "collections"):
        for pointer, held in state[kind].items():
            section = section_of(pointer)
            if held and (wanted is None or section in wanted):
                part = parts.setdefault(section, {"unites": {}, "collections": {}})
                part[kind][pointer] = held
    return parts


def shared_part(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the sections of ``state`` share, as stored with the notebook: provenances, the next
    provenance id, digests of resent sections."""
    return {key: value for key, value in state.items() if key not in ("unites", "collections")}


def joined_state(shared: Mapping[str, Any], parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The state whose shared part and section parts are these."""
    state: dict[str, Any] = {**shared, "unites": {}, "collections": {}}
    for part in parts:
        state["unites"].update(part["unites"])
        state["collections"].update(part["collections"])
    return state


def resolve(state: Mapping[str, Any], reference: Any) -> Mapping[str, Any]:
    """The provenance a unit or item refers to (older states hold it inline)."""
    if isinstance(reference, dict):
        return reference
    provenance_: Mapping[str, Any] = state["provenances"][reference]
    return provenance_


#: Provenances are compacted once every this many are created: a state holds at most this many
#: that no unit or item refers to any more (those created since, and the last one kept).
COMPACTION_INTERVAL = 8


def compact(state: dict[str, Any], *, every: int = COMPACTION_INTERVAL) -> None:
    """Forget the provenances no unit or item refers to any more, when the number created so
    far is a multiple of ``every``: the walk of every unit and item costs as much as merging a
    small contribution, and what it forgets only takes room meanwhile."""
    provenances = state.get("provenances")
    if not provenances or state.get("prochaine", 0) % every:
        return
    used: set[str] = set()

    def visit(records: Mapping[str, Any]) -> None:
        for record in records.values():
            if isinstance(record["p"], str):
                used.add(record["p"])
            if "actions" in record:
                visit(record["actions"])

    visit(state["unites"])
    for records in state["collections"].values():
        visit(records)
    for key in [key for key in provenances if key not in used]:
        del provenances[key]


def iter_items(state: Mapping[str, Any], records: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Live items of a collection, in insertion order, with their provenance."""
    for record in records.values():
        if record.get("supprime"):
            continue
        item = dict(record["v"])
        if "actions" in record:
            item["actions"] = list(iter_items(state, record["actions"]))
        item["provenance"] = resolve(state, record["p"])
        yield item
