"""The data category of every part of a notebook (legal-frame.md §8.1).

The parts are those the merge knows — units (a field or a group replaced as a whole) and
collection items — so that a write is refused, and a read projected, at the pointer where the
category changes. A coded entry takes its category from the referential: a health situation of
the diagnostic is ``sante_handicap``, and so is an RSA right suspended for a health reason. Within
an axe, an objective or an action is sensitive when its theme, its objective or its own code is.

Free text (:data:`FREE_TEXT_FIELDS`) is a part of its own, category :data:`FREE_TEXT`, inside
the part that holds it: « Suivi SPIP » typed in an event's label says more than the event's
category. It is served to whoever the matrix grants it, to the notebook's referent structure,
and to the organisation that wrote it (:func:`project`, ``own``); never without the part that
holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.caches import BoundedLRU
from gateway.notebooks.labels import labels
from referential import CATEGORIES as CODED_CATEGORIES
from referential import SENSITIVE_CATEGORIES, Referential, Validator
from referential.models import SECTIONS

#: The category of free text: labels, subjects and comments a professional types.
FREE_TEXT = "texte_libre"
#: The categories of the matrix: those of the legal frame (which the referential's codes
#: carry), then free text.
CATEGORIES: tuple[str, ...] = (*CODED_CATEGORIES, FREE_TEXT)
#: The free-text fields of the items or units of each collection or section (a field of an
#: item of ``/evenements`` is ``/evenements/<n>/libelle``); none is required by the schemas.
#: An action out of the referential is free text whole (its label is required and is all it
#: says).
FREE_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "/situation/projets_professionnels": ("appellation",),
    "/orientation": ("dispositif", "motif"),
    "/rendez_vous": ("objet",),
    "/evenements": ("libelle",),
}

#: Sections whose every part is of one category.
SECTION_CATEGORIES = {
    "personne": "identite",
    "coordonnees": "coordonnees",
    "contrat": "accompagnement",
    "orientation": "accompagnement",
    "accompagnement": "accompagnement",
    "rendez_vous": "accompagnement",
    "evenements": "parcours",
}


def _combine(outer: str, inner: str) -> str:
    """The category of a part nested in another: a sensitive one wins."""
    if inner in SENSITIVE_CATEGORIES or outer not in SENSITIVE_CATEGORIES:
        return inner
    return outer


def _coded(referential: Referential, liste: str, code: Any, default: str) -> str:
    entry = referential.list_entry(liste, code) if isinstance(code, str) else None
    return entry.categorie if entry is not None else default


Parts = Iterator[tuple[str, str]]


def _free_text(pointer: str, item: Any, fields: tuple[str, ...]) -> Parts:
    """The free-text parts of an item or unit at ``pointer``."""
    if isinstance(item, Mapping):
        for name in fields:
            if item.get(name) is not None:
                yield f"{pointer}/{name}", FREE_TEXT


def _named_fields(section: str) -> Any:
    def parts(value: Any, referential: Referential) -> Parts:
        for name, item in (value or {}).items():
            if name == "identifiants" and isinstance(item, Mapping):
                for kind in item:
                    yield f"/personne/identifiants/{kind}", "identite"
            else:
                yield f"/{section}/{name}", SECTION_CATEGORIES[section]

    return parts


def _droits(value: Any, referential: Referential) -> Parts:
    for name, item in (value or {}).items():
        category = "droits"
        if name == "rsa" and isinstance(item, Mapping):
            for suspension in item.get("suspensions") or ():
                motif = _coded(referential, "motifs_suspension_rsa", suspension.get("motif"), "")
                category = _combine(category, motif or "droits")
        yield f"/droits/{name}", category


def _situation(value: Any, referential: Referential) -> Parts:
    for name, item in (value or {}).items():
        if name == "projets_professionnels":
            fields = FREE_TEXT_FIELDS["/situation/projets_professionnels"]
            for index, projet in enumerate(item or ()):
                yield f"/situation/projets_professionnels/{index}", "situation"
                yield from _free_text(f"/situation/projets_professionnels/{index}", projet, fields)
        elif name == "situation_professionnelle" and isinstance(item, Mapping):
            code = item.get("code")
            yield (
                "/situation/situation_professionnelle",
                _coded(referential, "situations_professionnelles", code, "situation"),
            )
        elif name == "rqth":
            yield "/situation/rqth", "sante_handicap"
        else:
            yield f"/situation/{name}", "situation"


def _diagnostic(value: Any, referential: Referential) -> Parts:
    for index, item in enumerate((value or {}).get("situations") or ()):
        code = item.get("code")
        yield (
            f"/diagnostic/situations/{index}",
            _coded(referential, "situations", code, "situation"),
        )


def _axes(value: Any, referential: Referential) -> Parts:
    for index, axe in enumerate(value or ()):
        theme = _coded(referential, "themes", axe.get("theme"), "parcours")
        for position, objectif in enumerate(axe.get("objectifs") or ()):
            pointer = f"/axes/{index}/objectifs/{position}"
            category = _combine(
                theme, _coded(referential, "objectifs", objectif.get("code"), "parcours")
            )
            yield pointer, category
            for rank, action in enumerate(objectif.get("actions") or ()):
                if action.get("hors_referentiel"):
                    # Its label is all it says: the whole action is free text (the objective
                    # holding it carries the category of the theme and objective).
                    yield f"{pointer}/actions/{rank}", FREE_TEXT
                    continue
                own = _coded(referential, "actions", action.get("code"), "parcours")
                yield f"{pointer}/actions/{rank}", _combine(category, own)


def _whole(section: str) -> Any:
    fields = FREE_TEXT_FIELDS.get(f"/{section}", ())

    def parts(value: Any, referential: Referential) -> Parts:
        yield f"/{section}", SECTION_CATEGORIES[section]
        yield from _free_text(f"/{section}", value, fields)

    return parts


def _groupe_suivi(value: Any, referential: Referential) -> Parts:
    for index in range(len((value or {}).get("groupe_suivi") or ())):
        yield f"/accompagnement/groupe_suivi/{index}", "accompagnement"


def _items(section: str) -> Any:
    fields = FREE_TEXT_FIELDS.get(f"/{section}", ())

    def parts(value: Any, referential: Referential) -> Parts:
        for index, item in enumerate(value or ()):
            yield f"/{section}/{index}", SECTION_CATEGORIES[section]
            yield from _free_text(f"/{section}/{index}", item, fields)

    return parts


#: How the parts of each section are classified, in the order of a notebook's sections.
_CLASSIFIERS = (
    ("personne", _named_fields("personne")),
    ("coordonnees", _named_fields("coordonnees")),
    ("droits", _droits),
    ("situation", _situation),
    ("diagnostic", _diagnostic),
    ("axes", _axes),
    ("contrat", _whole("contrat")),
    ("orientation", _whole("orientation")),
    ("accompagnement", _groupe_suivi),
    ("rendez_vous", _items("rendez_vous")),
    ("evenements", _items("evenements")),
)
#: Sections of many parts whose classification is kept by content (partners resend them).
KEPT_SECTIONS = frozenset({"diagnostic", "axes", "accompagnement", "rendez_vous", "evenements"})


@dataclass(frozen=True, slots=True)
class SectionParts:
    """The parts of one section with their categories (pointer → category, in the order of
    the classification), and the categories among them."""

    parts: Mapping[str, str]
    categories: frozenset[str]

    @classmethod
    def of(cls, found: Iterable[tuple[str, str]]) -> SectionParts:
        parts = dict(found)
        return cls(parts, frozenset(parts.values()))


class ClassifiedSections:
    """The parts of sections already classified, by content (a bounded, thread-safe LRU,
    ``capacity`` bytes of contents in all): classifying a resent section of a hundred parts
    costs more than recognising it."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: BoundedLRU[tuple[Referential, str, bytes], SectionParts] = BoundedLRU(
            max_weight=capacity, weight=lambda key, _: len(key[2])
        )

    def parts(
        self, referential: Referential, section: str, value: Any, classifier: Any
    ) -> SectionParts:
        key = (referential, section, orjson.dumps(value))
        found = self._entries.get(key)
        if found is None:
            found = SectionParts.of(classifier(value, referential))
            self._entries.put(key, found)
        return found

    @property
    def size(self) -> int:
        """The bytes of contents held."""
        return self._entries.weight


def classified_sections(
    document: Mapping[str, Any],
    referential: Referential,
    *,
    kept: ClassifiedSections | None = None,
) -> Iterator[SectionParts]:
    """The parts of each section of a contribution or a notebook view, in the order of a
    notebook's sections; with ``kept``, those of :data:`KEPT_SECTIONS` classified before, by
    content, are taken from there."""
    for section, classifier in _CLASSIFIERS:
        value = document.get(section)
        if value is None:
            continue
        if kept is not None and section in KEPT_SECTIONS:
            yield kept.parts(referential, section, value, classifier)
        else:
            yield SectionParts.of(classifier(value, referential))


def classify(
    document: Mapping[str, Any],
    referential: Referential,
    *,
    kept: ClassifiedSections | None = None,
) -> Parts:
    """``(pointer, category)`` of every part of a contribution or a notebook view (see
    :func:`classified_sections`)."""
    if kept is not None:
        for found in classified_sections(document, referential, kept=kept):
            yield from found.parts.items()
        return
    for section, classifier in _CLASSIFIERS:
        value = document.get(section)
        if value is not None:
            yield from classifier(value, referential)


def categories_of(document: Mapping[str, Any], referential: Referential) -> list[str]:
    """The categories a notebook (or part of one) holds, sorted."""
    return sorted({category for _, category in classify(document, referential)})


#: One bit per category, for the change log (``changements.masque``): fixed values, stored.
CATEGORY_BITS = {
    "identite": 1,
    "coordonnees": 2,
    "droits": 4,
    "situation": 8,
    "accompagnement": 16,
    "parcours": 32,
    "sante_handicap": 64,
    "justice": 128,
    FREE_TEXT: 256,
}


def category_mask(categories: Iterable[str]) -> int:
    """The bits of ``categories`` (see :data:`CATEGORY_BITS`)."""
    mask = 0
    for category in categories:
        mask |= CATEGORY_BITS[category]
    return mask


def touched(parts: Mapping[str, str], applied: Iterable[str]) -> set[str]:
    """The categories of the parts of a contribution a merge applied (``parts``: pointer →
    category, as :meth:`gateway.habilitation.guard.Guard.check_write` classified them;
    ``applied``: pointers into the contribution, at a part or inside one).

    Free text goes with the part holding it both ways: a change of free text alone (an action
    out of the referential) touches its holder's category too, so that whoever reads the
    holder hears of it (its author and the referent structure among them); a part applied
    with its free text touches free text too."""
    found = set()
    holding_text = {p.rsplit("/", 1)[0] for p, c in parts.items() if c == FREE_TEXT}
    for pointer in applied:
        category = parts.get(pointer)
        if category is None:
            category = next(
                (
                    c
                    for p, c in parts.items()
                    if pointer.startswith(p + "/") or p.startswith(pointer + "/")
                ),
                None,
            )
        if category is None:
            # A part the classification does not name: every category the contribution holds.
            return set(parts.values())
        found.add(category)
        if pointer in holding_text:
            found.add(FREE_TEXT)
        if category == FREE_TEXT:
            holder = pointer
            while "/" in holder.strip("/"):
                holder = holder.rsplit("/", 1)[0]
                if parts.get(holder, FREE_TEXT) != FREE_TEXT:
                    found.add(parts[holder])
                    break
    return found


def project(
    view: dict[str, Any],
    readable: frozenset[str],
    validator: Validator,
    *,
    own: str | None = None,
) -> dict[str, Any]:
    """``view`` without the parts of a category outside ``readable`` (changed in place), but
    the free text written by the source ``own`` (the caller's organisation, when the purpose
    it states serves free text).

    Their provenance and the labels of their codes go with them; a section left empty is
    dropped.
    """
    return _project(view, readable, validator, own)[0]


def _project(
    view: dict[str, Any], readable: frozenset[str], validator: Validator, own: str | None
) -> tuple[dict[str, Any], bool]:
    """:func:`project`, and whether some free text of ``own`` was kept."""
    withheld = []
    kept_own = False
    for pointer, category in classify(view, validator.referential):
        if category in readable:
            continue
        if category == FREE_TEXT and own is not None and author(view, pointer) == own:
            kept_own = True
        else:
            withheld.append(pointer)
    if not withheld:
        return view, kept_own
    # Deepest and last first, so that list indexes stay right while removing.
    for pointer in sorted(withheld, key=_removal_order, reverse=True):
        _remove(view, pointer)
    if "axes" in view:
        view["axes"] = [axe for axe in view["axes"] if axe.get("objectifs")]
    for section in [s for s in SECTIONS_WITH_PARTS if s in view and _empty(view[s])]:
        del view[section]
    provenance = view.get("provenance")
    if isinstance(provenance, dict):
        for pointer in set(withheld) & set(provenance):
            del provenance[pointer]
    if "libelles" in view:
        view["libelles"] = labels(view, validator)
    # Own free text inside a part withheld went with it.
    return view, kept_own and any(
        category == FREE_TEXT for _, category in classify(view, validator.referential)
    )


def author(view: Mapping[str, Any], pointer: str) -> str | None:
    """The source that wrote the part at ``pointer`` of a view: that of the innermost item
    holding it, or of the unit holding it (``provenance`` by pointer)."""
    parts = pointer.strip("/").split("/")
    node: Any = view
    found = None
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if isinstance(node, Mapping) and isinstance(node.get("provenance"), Mapping):
            found = node["provenance"].get("source", found)
    if found is None:
        provenance = view.get("provenance") or {}
        for end in range(len(parts) - 1, 0, -1):
            unit = provenance.get("/" + "/".join(parts[:end]))
            if unit is not None:
                return str(unit["source"])
    return found


#: The sections made of parts (the others are replaced as a whole).
SECTIONS_WITH_PARTS = tuple(s for s in SECTIONS if s not in ("contrat", "orientation"))


def _removal_order(pointer: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in pointer.strip("/").split("/")[1:]), pointer


def _remove(document: dict[str, Any], pointer: str) -> None:
    parts = pointer.strip("/").split("/")
    node: Any = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        del node[int(last)]
    else:
        del node[last]


def _empty(value: Any) -> bool:
    """An empty section: nothing, or only empty lists and objects."""
    if isinstance(value, dict):
        return all(isinstance(v, dict | list) and _empty(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return False


#: A notebook version's view, whole (``readable`` None) or as some readable categories project
#: it, with the free text of one source (the last member: None when no free text is kept but
#: what ``readable`` serves).
ViewKey = tuple[str, int, frozenset[str] | None, str | None]


class ProjectionCache:
    """Views by notebook and version, whole (as stored) or projected for a set of readable
    categories: a notebook version is assembled from its stored pieces once, and projected once
    per set of readable categories, not at every read. A version never changes: an entry is
    true as long as it is kept. Bounded (LRU) by entries and by bytes in all."""

    def __init__(self, capacity: int, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._entries: BoundedLRU[ViewKey, tuple[bytes, list[str]]] = BoundedLRU(
            capacity, max_weight=max_bytes, weight=lambda _, value: len(value[0])
        )

    def get(self, key: ViewKey) -> tuple[bytes, list[str]] | None:
        return self._entries.get(key)

    def put(self, key: ViewKey, value: tuple[bytes, list[str]]) -> None:
        self._entries.put(key, value)

    @property
    def size(self) -> int:
        """The bytes of views held."""
        return self._entries.weight


def served(
    vue: bytes,
    held: Iterable[str],
    readable: frozenset[str],
    withheld: bytes,
    validator: Validator,
    *,
    cache: ProjectionCache | None = None,
    key: tuple[str, int] | None = None,
    own: str | None = None,
) -> tuple[bytes, list[str]]:
    """The stored view ``vue`` as one caller may read it, with ``masques`` (the categories it
    may not read), and the categories served (``own``: the caller's source, served the free
    text it wrote; see :func:`project`).

    A view holding only readable categories is served as stored, without parsing it.
    """
    held = list(held)
    if readable.issuperset(held):
        return b"".join((memoryview(vue)[:-1], b',"masques":', withheld, b"}")), held
    if FREE_TEXT in readable or FREE_TEXT not in held:
        own = None
    cache_key = None if cache is None or key is None else (*key, readable, own)
    found = None if cache_key is None or cache is None else cache.get(cache_key)
    if found is None:
        view, kept_own = _project(orjson.loads(vue), readable, validator, own)
        categories = readable.intersection(held) | ({FREE_TEXT} if kept_own else set())
        found = (orjson.dumps(view)[:-1], sorted(categories))
        if cache_key is not None and cache is not None:
            cache.put(cache_key, found)
    return b"".join((found[0], b',"masques":', withheld, b"}")), found[1]
