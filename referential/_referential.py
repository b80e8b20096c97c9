"""The nomenclature as data: loading, indexing and looking up codes.

Data files live in ``referential/data``: one YAML file per list (``themes``, ``situations``,
``objectifs``, ``actions``, and one per enumeration under ``enumerations/``), the crosswalks to
partner codes under ``correspondances/``, and the published versions in ``referentiel.yaml``.
Codes are the identity of an entry: they are never changed, re-used or removed once published.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from rapidfuzz import fuzz, process

if TYPE_CHECKING:
    from referential._diff import VersionDiff

#: A code is lower-case ASCII words joined by ``_``, in dot-separated segments
#: (``logement``, ``logement.heberge_chez_tiers``, ``rsa_droit_ouvert_versable``).
CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*(?:\.[a-z0-9]+(?:_[a-z0-9]+)*)*$")
VERSION_PATTERN = re.compile(r"^[0-9]{4}\.[0-9]+$")

#: The data categories of the legal frame (legal-frame.md §8.1).
CATEGORIES = (
    "identite",
    "coordonnees",
    "droits",
    "situation",
    "accompagnement",
    "parcours",
    "sante_handicap",
    "justice",
)
SENSITIVE_CATEGORIES = frozenset({"sante_handicap", "justice"})

NOMENCLATURE_LISTS = ("themes", "situations", "objectifs", "actions")
Relation = Literal["equivalent", "plus_large", "plus_etroit", "sans_equivalent"]


class ReferentialDataError(ValueError):
    """The referential data files break one of the publication rules."""


def version_key(version: str) -> tuple[int, int]:
    year, number = version.split(".")
    return int(year), int(number)


@dataclass(frozen=True, slots=True)
class Entry:
    """One coded value of a list."""

    liste: str
    code: str
    libelle: str
    categorie: str
    introduit_en: str
    description: str | None = None
    theme: str | None = None
    deprecie_en: str | None = None
    retire_en: str | None = None
    remplace_par: tuple[str, ...] = ()
    alias_v1: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    def published_in(self, version: str) -> bool:
        """Whether the entry exists (possibly deprecated) in ``version``."""
        key = version_key(version)
        if version_key(self.introduit_en) > key:
            return False
        return self.retire_en is None or version_key(self.retire_en) > key

    def deprecated_in(self, version: str) -> bool:
        return self.deprecie_en is not None and version_key(self.deprecie_en) <= version_key(
            version
        )

    def to_wire(self, version: str) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code, "libelle": self.libelle}
        if self.description:
            wire["description"] = self.description
        if self.theme:
            wire["theme"] = self.theme
        wire["categorie"] = self.categorie
        wire.update(self.extra)
        wire["introduit_en"] = self.introduit_en
        wire["deprecie"] = self.deprecated_in(version)
        if self.deprecie_en:
            wire["deprecie_en"] = self.deprecie_en
        if self.remplace_par:
            wire["remplace_par"] = list(self.remplace_par)
        if self.alias_v1:
            wire["alias_v1"] = list(self.alias_v1)
        return wire


@dataclass(frozen=True, slots=True)
class CodeList:
    nom: str
    description: str
    entries: tuple[Entry, ...]

    def codes(self, version: str) -> tuple[str, ...]:
        return tuple(e.code for e in self.entries if e.published_in(version))


@dataclass(frozen=True, slots=True)
class CrosswalkRow:
    code_partenaire: str
    libelle_partenaire: str
    relation: Relation
    code: str | None = None
    contrainte: str | None = None
    versions_api: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CrosswalkTable:
    partenaire: str
    table: str
    cible: str
    versions_api: tuple[str, ...]
    description: str
    lignes: tuple[CrosswalkRow, ...]

    def lookup(self, code_partenaire: str, version_api: str | None = None) -> CrosswalkRow | None:
        """The row for a partner code, or None when the partner code is not listed at all."""
        for row in self.lignes:
            if row.code_partenaire != code_partenaire:
                continue
            if version_api and row.versions_api and version_api not in row.versions_api:
                continue
            return row
        return None


#: The statuses of a published version: the current one, the older ones still accepted
#: (``supportee``: their codes are translated into the current version), the ones past their
#: end of support (``retiree``) and the ones announced ahead (``a_venir``): payloads declaring
#: those two are refused.
VERSION_STATUSES = ("courante", "supportee", "retiree", "a_venir")


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    version: str
    publiee_le: str
    statut: str
    notes: str
    #: The announced (or past) end of support of a version other than the current one.
    fin_support: str | None = None

    @property
    def supported(self) -> bool:
        return self.statut in ("courante", "supportee")


@dataclass(frozen=True, slots=True)
class Translation:
    """What becomes of a code of one version in a later one (the crosswalk between versions).

    ``vers`` are the codes that replace it in the later version, found by following
    ``remplace_par`` through every intermediate deprecation; ``depuis`` is the version in which
    the code was deprecated (or retired); ``retire_en``, when it is no longer published, the
    version that retired it.
    """

    liste: str
    code: str
    vers: tuple[str, ...]
    depuis: str
    retire_en: str | None = None

    @property
    def retire(self) -> bool:
        return self.retire_en is not None

    @property
    def single(self) -> str | None:
        """The one replacement, when the code translates mechanically."""
        return self.vers[0] if len(self.vers) == 1 else None


@dataclass(slots=True)
class Suggestion:
    code: str
    raison: str


def _closest(value: str, codes: Sequence[str]) -> Suggestion | None:
    """The code closest to ``value`` (normalised Indel similarity of at least 60 %)."""
    found = process.extractOne(value, codes, scorer=fuzz.ratio, score_cutoff=60)
    return Suggestion(found[0], "proche") if found else None


def normalise_label(label: str) -> str:
    """Fold case, accents, apostrophes, ellipses and spaces: used to compare labels, never codes."""
    text = label.replace("’", "'").replace("…", "...")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(text.split())


class Referential:
    """Every list of the nomenclature, with the versions they were published in."""

    def __init__(
        self,
        lists: Mapping[str, CodeList],
        crosswalks: Iterable[CrosswalkTable],
        versions: Iterable[PublishedVersion],
        current: str,
    ) -> None:
        self.lists = dict(lists)
        self.crosswalks = tuple(crosswalks)
        self.versions = {v.version: v for v in versions}
        self.current = current
        self._by_code: dict[str, Entry] = {}
        self._codes: dict[tuple[str, str], tuple[str, ...]] = {}
        self._aliases: dict[str, dict[str, str]] = {}
        for liste in self.lists.values():
            aliases = self._aliases.setdefault(liste.nom, {})
            for entry in liste.entries:
                aliases[normalise_label(entry.libelle)] = entry.code
                for alias in entry.alias_v1:
                    aliases.setdefault(alias, entry.code)
                    aliases.setdefault(normalise_label(alias), entry.code)
        for nom in NOMENCLATURE_LISTS:
            for entry in self.lists[nom].entries:
                self._by_code[entry.code] = entry
        groups: dict[str, list[str]] = {}
        for theme in self.lists["themes"].entries:
            if theme.extra.get("role") == "groupe_objectifs":
                groups.setdefault(theme.extra["axe"], []).append(theme.code)
        self._axis_themes = {axe: tuple(themes) for axe, themes in groups.items()}
        self._entries = {(e.liste, e.code): e for lst in self.lists.values() for e in lst.entries}
        self._labels = {key: entry.libelle for key, entry in self._entries.items()}
        self.check()

    # -- lookups -------------------------------------------------------------------------

    def entry(self, code: str) -> Entry | None:
        """A nomenclature code (theme, situation, objective, action)."""
        return self._by_code.get(code)

    def label(self, liste: str, code: str) -> str | None:
        """The label of a code of ``liste`` (a dictionary lookup)."""
        return self._labels.get((liste, code))

    def list_entry(self, liste: str, code: str) -> Entry | None:
        """The entry of ``code`` in ``liste`` (a dictionary lookup)."""
        return self._entries.get((liste, code))

    def codes(self, liste: str, version: str | None = None) -> tuple[str, ...]:
        key = (liste, version or self.current)
        found = self._codes.get(key)
        if found is None:
            found = self._codes[key] = self.lists[liste].codes(key[1])
        return found

    def entries(self, liste: str, version: str | None = None) -> tuple[Entry, ...]:
        version = version or self.current
        return tuple(e for e in self.lists[liste].entries if e.published_in(version))

    def deprecated_codes(self, liste: str, version: str | None = None) -> dict[str, Entry]:
        version = version or self.current
        return {e.code: e for e in self.entries(liste, version) if e.deprecated_in(version)}

    def suggest(self, liste: str, value: str, version: str | None = None) -> Suggestion | None:
        """A "did you mean" for a value that is not a code of ``liste``."""
        alias = self._aliases[liste].get(value) or self._aliases[liste].get(normalise_label(value))
        codes = self.codes(liste, version)
        if alias and alias in codes:
            return Suggestion(alias, "alias")
        return _closest(value, codes)

    def suggest_nomenclature(self, value: str) -> Suggestion | None:
        """A "did you mean" among every nomenclature code (themes, situations, objectifs, actions)."""
        for liste in NOMENCLATURE_LISTS:
            alias = self._aliases[liste].get(value) or self._aliases[liste].get(
                normalise_label(value)
            )
            if alias:
                return Suggestion(alias, "alias")
        return _closest(value, tuple(self._by_code))

    # -- versions --------------------------------------------------------------------------

    def supported_versions(self) -> tuple[str, ...]:
        """The versions payloads may declare, oldest first."""
        return tuple(
            sorted((v.version for v in self.versions.values() if v.supported), key=version_key)
        )

    def diff(self, de: str, a: str) -> VersionDiff:
        """What changes from version ``de`` to the later (or same) version ``a``
        (:class:`~referential._diff.VersionOrderError` when they are unknown or out of order)."""
        from referential._diff import diff

        return diff(self, de, a)

    def schema_versions(self) -> tuple[str, ...]:
        """The versions whose schemas are published (every one but the retired), oldest first."""
        return tuple(
            sorted(
                (v.version for v in self.versions.values() if v.statut != "retiree"),
                key=version_key,
            )
        )

    def translation(self, liste: str, code: str, version: str) -> Translation | None:
        """What ``code`` of ``liste`` becomes in ``version``: None when it is published there
        and not deprecated (nothing to translate)."""
        entry = self._entries.get((liste, code))
        if entry is None:
            return None
        retired = not entry.published_in(version)
        if not retired and not entry.deprecated_in(version):
            return None
        targets: list[str] = []
        seen = {code}

        def follow(current: Entry) -> None:
            for target in current.remplace_par:
                if target in seen:
                    continue
                seen.add(target)
                replacement = self._entries.get((liste, target))
                if replacement is None or not replacement.published_in(version):
                    continue
                if replacement.deprecated_in(version) and replacement.remplace_par:
                    follow(replacement)
                else:
                    targets.append(target)

        follow(entry)
        return Translation(
            liste=liste,
            code=code,
            vers=tuple(targets),
            depuis=entry.deprecie_en or entry.retire_en or version,
            retire_en=entry.retire_en if retired else None,
        )

    def axis_objective_themes(self, axe: str) -> tuple[str, ...]:
        """The themes whose objectives are offered under the focus theme ``axe``."""
        return self._axis_themes.get(axe, (axe,))

    def crosswalk(
        self, partenaire: str, table: str, version_api: str | None = None
    ) -> CrosswalkTable:
        for xwalk in self.crosswalks:
            if xwalk.partenaire == partenaire and xwalk.table == table:
                if version_api is None or version_api in xwalk.versions_api:
                    return xwalk
        raise KeyError(f"{partenaire}/{table}/{version_api}")

    # -- publication checks ----------------------------------------------------------------

    def check(self) -> None:
        """The publication rules of the referential (referential.md §6)."""
        problems: list[str] = []
        seen: dict[str, str] = {}
        themes = {e.code for e in self.lists["themes"].entries}
        for liste in self.lists.values():
            in_list: set[str] = set()
            labels: dict[tuple[str | None, str], str] = {}
            for entry in liste.entries:
                if not CODE_PATTERN.match(entry.code):
                    problems.append(f"{liste.nom}: code mal formé {entry.code!r}")
                if entry.code in in_list:
                    problems.append(f"{liste.nom}: code en double {entry.code!r}")
                in_list.add(entry.code)
                if liste.nom in NOMENCLATURE_LISTS:
                    if entry.code in seen:
                        problems.append(
                            f"code {entry.code!r} dans {seen[entry.code]} et {liste.nom}"
                        )
                    seen[entry.code] = liste.nom
                if entry.categorie not in CATEGORIES:
                    problems.append(f"{entry.code}: catégorie inconnue {entry.categorie!r}")
                if entry.theme is not None and entry.theme not in themes:
                    problems.append(f"{entry.code}: thème inconnu {entry.theme!r}")
                if liste.nom in ("situations", "objectifs", "actions"):
                    if entry.theme is None or not entry.code.startswith(entry.theme + "."):
                        problems.append(f"{entry.code}: le code doit commencer par son thème")
                for version in (entry.introduit_en, entry.deprecie_en, entry.retire_en):
                    if version is not None and version not in self.versions:
                        problems.append(f"{entry.code}: version inconnue {version!r}")
                for target in entry.remplace_par:
                    if target not in {e.code for e in liste.entries}:
                        problems.append(f"{entry.code}: remplacement inconnu {target!r}")
                if entry.deprecie_en and not entry.remplace_par:
                    problems.append(f"{entry.code}: code déprécié sans remplacement")
                problems.extend(self._lifecycle_problems(liste, entry))
                label_key = (entry.theme, normalise_label(entry.libelle))
                if label_key in labels and entry.retire_en is None:
                    problems.append(
                        f"{entry.code}: même libellé que {labels[label_key]} dans le même thème"
                    )
                labels[label_key] = entry.code
        for xwalk in self.crosswalks:
            target_list = self.lists.get(xwalk.cible)
            if target_list is None:
                problems.append(f"correspondance {xwalk.table}: liste cible inconnue {xwalk.cible}")
                continue
            target_codes = {e.code for e in target_list.entries}
            for row in xwalk.lignes:
                if (row.code is None) != (row.relation == "sans_equivalent"):
                    problems.append(
                        f"correspondance {xwalk.table} {row.code_partenaire}: code et relation incohérents"
                    )
                if row.code is not None and row.code not in target_codes:
                    problems.append(
                        f"correspondance {xwalk.table} {row.code_partenaire}: code inconnu {row.code}"
                    )
        problems.extend(self._version_problems())
        if problems:
            raise ReferentialDataError("; ".join(problems))

    def _lifecycle_problems(self, liste: CodeList, entry: Entry) -> list[str]:
        """An entry's versions in order, and its replacements published when it is replaced."""
        problems: list[str] = []
        known = [v for v in (entry.introduit_en, entry.deprecie_en, entry.retire_en) if v]
        if any(v not in self.versions for v in known):
            return problems  # reported as an unknown version
        introduced = version_key(entry.introduit_en)
        if entry.deprecie_en and version_key(entry.deprecie_en) <= introduced:
            problems.append(f"{entry.code}: déprécié avant ou dès son introduction")
        if entry.retire_en and version_key(entry.retire_en) <= introduced:
            problems.append(f"{entry.code}: retiré avant ou dès son introduction")
        if (
            entry.deprecie_en
            and entry.retire_en
            and version_key(entry.retire_en) < version_key(entry.deprecie_en)
        ):
            problems.append(f"{entry.code}: retiré avant d'être déprécié")
        replaced_in = entry.deprecie_en or entry.retire_en
        for target in entry.remplace_par:
            if target == entry.code:
                problems.append(f"{entry.code}: se remplace lui-même")
            replacement = self._entries.get((liste.nom, target))
            if replaced_in and replacement and not replacement.published_in(replaced_in):
                problems.append(
                    f"{entry.code}: remplacement {target!r} non publié en {replaced_in}"
                )
        return problems

    def _version_problems(self) -> list[str]:
        problems = []
        if self.current not in self.versions:
            return [f"version courante inconnue {self.current!r}"]
        for version in self.versions.values():
            if not VERSION_PATTERN.match(version.version):
                problems.append(f"version mal formée {version.version!r}")
                continue
            if version.statut not in VERSION_STATUSES:
                problems.append(f"version {version.version}: statut inconnu {version.statut!r}")
            if (version.statut == "courante") != (version.version == self.current):
                problems.append(f"version {version.version}: seule la version courante l'est")
            later = version_key(version.version) > version_key(self.current)
            if later != (version.statut == "a_venir"):
                problems.append(
                    f"version {version.version}: seules les versions à venir suivent la courante"
                )
        return problems


# -- loading -------------------------------------------------------------------------------

_ENTRY_FIELDS = {
    "code",
    "libelle",
    "categorie",
    "introduit_en",
    "description",
    "theme",
    "deprecie_en",
    "retire_en",
    "remplace_par",
    "alias_v1",
}


def _entry(liste: str, raw: Mapping[str, Any]) -> Entry:
    extra = {k: str(v) for k, v in raw.items() if k not in _ENTRY_FIELDS}
    return Entry(
        liste=liste,
        code=str(raw["code"]),
        libelle=str(raw["libelle"]),
        categorie=str(raw["categorie"]),
        introduit_en=str(raw["introduit_en"]),
        description=raw.get("description"),
        theme=raw.get("theme"),
        deprecie_en=raw.get("deprecie_en"),
        retire_en=raw.get("retire_en"),
        remplace_par=tuple(raw.get("remplace_par") or ()),
        alias_v1=tuple(raw.get("alias_v1") or ()),
        extra=extra,
    )


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_referential(directory: Path | None = None) -> Referential:
    """Load and check the referential from a data directory (the packaged one by default)."""
    root = directory or Path(str(resources.files("referential") / "data"))
    lists: dict[str, CodeList] = {}
    paths = [root / f"{nom}.yaml" for nom in NOMENCLATURE_LISTS]
    paths += sorted((root / "enumerations").glob("*.yaml"))
    for path in paths:
        raw = _load_yaml(path)
        nom = str(raw["liste"])
        entries = tuple(_entry(nom, item) for item in raw["entrees"])
        lists[nom] = CodeList(nom=nom, description=str(raw.get("description", "")), entries=entries)
    crosswalks: list[CrosswalkTable] = []
    for path in sorted((root / "correspondances").glob("*.yaml")):
        raw = _load_yaml(path)
        for table in raw["tables"]:
            crosswalks.append(
                CrosswalkTable(
                    partenaire=str(raw["partenaire"]),
                    table=str(table["table"]),
                    cible=str(table["cible"]),
                    versions_api=tuple(table.get("versions_api") or ()),
                    description=str(table.get("description", "")),
                    lignes=tuple(
                        CrosswalkRow(
                            code_partenaire=str(row["code_partenaire"]),
                            libelle_partenaire=str(row["libelle_partenaire"]),
                            relation=row["relation"],
                            code=row.get("code"),
                            contrainte=row.get("contrainte"),
                            versions_api=tuple(row.get("versions_api") or ()),
                        )
                        for row in table["lignes"]
                    ),
                )
            )
    crosswalks.extend(_caf_crosswalks(lists))
    meta = _load_yaml(root / "referentiel.yaml")
    versions = [
        PublishedVersion(
            version=str(v["version"]),
            publiee_le=str(v["publiee_le"]),
            statut=str(v["statut"]),
            notes=str(v.get("notes", "")),
            fin_support=str(v["fin_support"]) if v.get("fin_support") else None,
        )
        for v in meta["versions"]
    ]
    return Referential(lists, crosswalks, versions, current=str(meta["courante"]))


def _caf_crosswalks(lists: Mapping[str, CodeList]) -> list[CrosswalkTable]:
    """CAF/MSA flux codes are carried by the entries themselves (``code_caf``)."""
    tables = {
        "ETATDOSRSA": "etats_droit_rsa",
        "MOTISUSVERSRSA": "motifs_suspension_rsa",
        "MOTICLORSA": "motifs_cloture_rsa",
        "FONORG": "organismes_prestations",
    }
    return [
        CrosswalkTable(
            partenaire="caf_msa",
            table=table,
            cible=liste,
            versions_api=("vrsb0801",),
            description=f"Codes {table} du flux RSA CAF/MSA → {liste}.",
            lignes=tuple(
                CrosswalkRow(
                    code_partenaire=e.extra["code_caf"],
                    libelle_partenaire=e.libelle,
                    relation="equivalent",
                    code=e.code,
                )
                for e in lists[liste].entries
                if "code_caf" in e.extra
            ),
        )
        for table, liste in tables.items()
    ]


@cache
def current_referential() -> Referential:
    """The packaged referential, loaded once."""
    return load_referential()
