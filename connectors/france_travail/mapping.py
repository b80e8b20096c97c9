"""France Travail diagnostic → referential contribution: pure functions, codes only.

Each FT item goes through the crosswalk of its API version (``referential/data/correspondances/
france_travail.yaml``): contraintes → themes, situations → situations, objectifs → objectives,
objectif values → objective statuses. Labels are never read. A code without a crosswalk entry is
a ``code_inconnu`` notice (counted), an unknown value a ``valeur_inconnue`` notice; the rest of
the dossier is applied.

Values (connectors.md §1.12.2): only a contrainte ``OUI`` makes its situations and objectifs
current; ``CLOTUREE`` closes the theme's situations and applies its objectifs' final values;
``NON_ABORDEE`` asserts nothing. A situation ``NON`` closes it. ``declareSansContrainte`` closes
every situation the dossier does not assert. Closures are tombstones of this source's own items:
the merge never lets them touch another source's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors import Notice
from referential import CrosswalkRow, Referential

PARTNER = "france_travail"
OUI, NON, CLOTUREE, NON_ABORDEE = "OUI", "NON", "CLOTUREE", "NON_ABORDEE"
CONTRAINTE_VALUES = frozenset({OUI, CLOTUREE, NON_ABORDEE})
SITUATION_VALUES = frozenset({OUI, NON, NON_ABORDEE})
FINAL_STATUSES = frozenset({"realise", "abandonne"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One situation or objectif as both generations carry it."""

    pointer: str
    code: str
    valeur: str
    date: str | None


@dataclass(frozen=True, slots=True)
class Theme:
    """One contrainte, with its pointer in the upstream payload."""

    pointer: str
    code: str
    valeur: str
    date: str | None
    situations: tuple[Entry, ...]
    objectifs: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """The social diagnostic of a dossier, whichever its generation."""

    version_api: str
    themes: tuple[Theme, ...]
    date: str | None = None
    #: The date at which the person declared no contrainte (v4), when they did.
    sans_contrainte: str | None = None
    declared_without_date: bool = False


@dataclass(slots=True)
class Mapped:
    contribution: dict[str, Any]
    notices: list[Notice] = field(default_factory=list)
    unknown_codes: int = 0


def instant(text: str | None) -> datetime | None:
    """An FT timestamp (ISO 8601, maybe without offset: read as UTC), None when unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Mapper:
    def __init__(self, referential: Referential, diagnostic: Diagnostic, fetched_at: datetime):
        self.referential = referential
        self.version = diagnostic.version_api
        self.diagnostic = diagnostic
        self.fetched_at = fetched_at
        self.result = Mapped(contribution={})
        self.dates: list[datetime] = []
        self._tables = {
            name: referential.crosswalk(PARTNER, name, self.version)
            for name in ("contraintes", "situations", "objectifs", "valeurs_objectif")
        }

    def lookup(self, table: str, code: str) -> CrosswalkRow | None:
        return self._tables[table].lookup(code, self.version)

    def notice(self, pointer: str, code: str, message: str) -> None:
        self.result.notices.append(Notice(pointer, code, message))

    def unknown(self, pointer: str, kind: str, code: str) -> None:
        self.result.unknown_codes += 1
        self.notice(
            pointer + "/code",
            "code_inconnu",
            f"Code {kind} France Travail « {code} » sans correspondance ({self.version}) : ignoré.",
        )

    def date_of(self, *candidates: str | None) -> datetime:
        for candidate in candidates:
            moment = instant(candidate)
            if moment is not None:
                self.dates.append(moment)
                return moment
        return self.fetched_at

    def run(self) -> Mapped:
        situations: dict[str, dict[str, Any]] = {}
        axes: dict[str, dict[str, dict[str, Any]]] = {}
        asserted: set[str] = set()
        for theme in self.diagnostic.themes:
            self.theme(theme, situations, axes, asserted)
        declared = self.diagnostic.sans_contrainte
        if declared is not None or self.diagnostic.declared_without_date:
            if declared:
                self.date_of(declared)
            # The person declared no contrainte: end every situation this dossier does not
            # assert (those of other sources are out of reach by construction).
            for row in self._tables["situations"].lignes:
                if row.code and row.code not in asserted and row.code not in situations:
                    situations[row.code] = {"code": row.code, "supprime": True}
        contribution = self.result.contribution
        observed = max(self.dates) if self.dates else self.fetched_at
        contribution["observe_le"] = _iso(min(observed, self.fetched_at))
        if situations:
            contribution["diagnostic"] = {"situations": list(situations.values())}
        if axes:
            contribution["axes"] = [
                {"theme": theme, "objectifs": list(objectifs.values())}
                for theme, objectifs in axes.items()
                if objectifs
            ]
        return self.result

    def theme(
        self,
        theme: Theme,
        situations: dict[str, dict[str, Any]],
        axes: dict[str, dict[str, dict[str, Any]]],
        asserted: set[str],
    ) -> None:
        row = self.lookup("contraintes", theme.code)
        if row is None:
            self.unknown(theme.pointer, "de contrainte", theme.code)
            return
        if row.code is None:
            self.notice(
                theme.pointer + "/code",
                "sans_equivalent",
                f"Contrainte France Travail « {theme.code} » sans équivalent au référentiel.",
            )
            return
        if theme.valeur not in CONTRAINTE_VALUES:
            self.notice(
                theme.pointer + "/valeur",
                "valeur_inconnue",
                f"Valeur de contrainte « {theme.valeur} » inconnue : contrainte ignorée.",
            )
            return
        if theme.valeur == NON_ABORDEE:
            return
        theme_date = self.date_of(theme.date, self.diagnostic.date)
        if theme.valeur == OUI:
            for entry in theme.situations:
                self.situation(entry, theme_date, situations, asserted)
        else:
            # CLOTUREE: the theme's situations end.
            for situation in self._tables["situations"].lignes:
                if situation.contrainte == theme.code and situation.code:
                    situations.setdefault(
                        situation.code, {"code": situation.code, "supprime": True}
                    )
        for entry in theme.objectifs:
            self.objectif(entry, row.code, closed=theme.valeur == CLOTUREE, axes=axes)

    def situation(
        self,
        entry: Entry,
        theme_date: datetime,
        situations: dict[str, dict[str, Any]],
        asserted: set[str],
    ) -> None:
        row = self.lookup("situations", entry.code)
        if row is None:
            self.unknown(entry.pointer, "de situation", entry.code)
            return
        if entry.valeur not in SITUATION_VALUES:
            self.notice(
                entry.pointer + "/valeur",
                "valeur_inconnue",
                f"Valeur de situation « {entry.valeur} » inconnue : situation ignorée.",
            )
            return
        if row.code is None:
            self.notice(
                entry.pointer + "/code",
                "sans_equivalent",
                f"Situation France Travail « {entry.code} » sans équivalent au référentiel.",
            )
            return
        if row.code in situations or entry.valeur == NON_ABORDEE:
            # A code met twice in one dossier makes one item: the first one.
            return
        if entry.valeur == OUI:
            since = self.date_of(entry.date) if entry.date else theme_date
            situations[row.code] = {"code": row.code, "depuis": since.date().isoformat()}
            asserted.add(row.code)
        else:
            situations[row.code] = {"code": row.code, "supprime": True}

    def objectif(
        self,
        entry: Entry,
        theme: str,
        *,
        closed: bool,
        axes: dict[str, dict[str, dict[str, Any]]],
    ) -> None:
        row = self.lookup("objectifs", entry.code)
        if row is None:
            self.unknown(entry.pointer, "d'objectif", entry.code)
            return
        status = self.lookup("valeurs_objectif", entry.valeur)
        if status is None:
            self.notice(
                entry.pointer + "/valeur",
                "valeur_inconnue",
                f"Valeur d'objectif « {entry.valeur} » inconnue : objectif ignoré.",
            )
            return
        if status.code is None:
            return  # NON_ABORDE: not proposed, no objective.
        if row.code is None:
            self.notice(
                entry.pointer + "/code",
                "sans_equivalent",
                f"Objectif France Travail « {entry.code} » sans équivalent au référentiel.",
            )
            return
        if closed and status.code not in FINAL_STATUSES:
            return
        if entry.date:
            self.date_of(entry.date)
        axes.setdefault(theme, {}).setdefault(row.code, {"code": row.code, "statut": status.code})


def map_diagnostic(
    diagnostic: Diagnostic, referential: Referential, fetched_at: datetime
) -> Mapped:
    """The referential contribution a diagnostic makes (``observe_le``, ``diagnostic``,
    ``axes``), with its notices; ``fetched_at`` dates what the dossier does not."""
    return _Mapper(referential, diagnostic, fetched_at).run()
