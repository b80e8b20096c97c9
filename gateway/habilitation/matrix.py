"""The habilitation matrix as data: actor kind × data category → rights, scope and purposes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml

from gateway.habilitation.categories import CATEGORIES, FREE_TEXT

Right = Literal["lecture", "ecriture", "export", "identification"]
RIGHTS: tuple[Right, ...] = ("lecture", "ecriture", "export", "identification")
Scope = Literal["territoire", "relation", "bac_a_sable", "aucune"]
#: The sandbox territory: made-up notebooks only, where software publishers try their
#: integration (no real organisation has it: it is not a département code).
SANDBOX = "SBX"

#: Reason codes of a withheld category, as reads report them.
NOT_HABILITATED = "non_habilite"
RESERVED = "reserve_referent"
RESTRICTED = "restriction_organisation"
OUTSIDE_PURPOSE = "hors_finalite"
#: Free text the caller may not read whole: it is served only what its organisation wrote
#: (and, as the notebook's referent structure, everything).
AUTHOR_OR_REFERENT = "auteur_ou_referent"
#: OAuth2 scopes: one per right of the matrix (a token may carry fewer rights than its
#: client's), and the administration of organisations and clients for operators.
SCOPE_PREFIX = "carnets."
ADMINISTRATION = "administration"
SCOPES: tuple[str, ...] = (*(SCOPE_PREFIX + r for r in RIGHTS), ADMINISTRATION)
#: An override of the matrix for one organisation: (categorie, droit, effet).
Override = tuple[str, str, str]
GRANT, RESTRICTION = "accorde", "retire"


@dataclass(frozen=True, slots=True)
class ActorRights:
    """What one actor kind may do."""

    libelle: str
    portee: Scope
    finalites: tuple[str, ...]
    droits: Mapping[str, frozenset[str]]
    #: Category → the only pointers it may write (absent: the whole category).
    limites: Mapping[str, tuple[str, ...]]
    #: May it send a NIR and find a notebook by it (legal-frame.md §8.3: the kinds whose
    #: matching needs it)?
    nir: bool = False
    #: Its organisations and their clients are administered by national operators only, never
    #: by a territory's operator (authoritative sources, State services, the sandbox).
    national: bool = False
    #: The categories served to (and recorded by) the designated referent agent, or agents
    #: habilitated for them, only ("(ref)" of legal-frame.md §8.3).
    reserve: frozenset[str] = frozenset()

    def may(self, right: Right, category: str) -> bool:
        return right in self.droits.get(category, frozenset())

    @property
    def steers(self) -> bool:
        """Does the kind steer the follow-up of its territories' notebooks (territorial scope
        and the right to record ``accompagnement``: the département)? It designates follow-up
        groups, decides join requests, and its operators administer the territory. CAF/MSA
        has a territorial scope (the source of RSA rights) but steers nothing."""
        return self.portee == "territoire" and self.may("ecriture", "accompagnement")

    def may_write_all(self, categories: Iterable[str]) -> bool:
        """May it write every part of these categories, wherever they are?"""
        return all(
            self.may("ecriture", category) and category not in self.limites
            for category in categories
        )

    def may_write(self, category: str, pointer: str) -> bool:
        if not self.may("ecriture", category):
            return False
        allowed = self.limites.get(category)
        return allowed is None or any(
            pointer == prefix or pointer.startswith(prefix + "/") for prefix in allowed
        )

    @property
    def readable(self) -> frozenset[str]:
        return frozenset(c for c in CATEGORIES if self.may("lecture", c))

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes of the rights this actor holds on some category."""
        held = {right for rights in self.droits.values() for right in rights}
        return tuple(SCOPE_PREFIX + r for r in RIGHTS if r in held)

    def within(self, scopes: frozenset[str]) -> ActorRights:
        """These rights, restricted to those a token's scopes carry."""
        granted = {r for r in RIGHTS if SCOPE_PREFIX + r in scopes}
        return ActorRights(
            self.libelle,
            self.portee,
            self.finalites,
            {c: r & granted for c, r in self.droits.items()},
            self.limites,
            self.nir,
            self.national,
            self.reserve,
        )


class Matrix:
    """The published matrix, one version."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.version = str(raw["version"])
        self.base_legale = str(raw["base_legale"])
        self.categories: dict[str, dict[str, Any]] = dict(raw["categories"])
        self.finalites: dict[str, str] = dict(raw["finalites"])
        #: The actor kinds whose involvement with a person reveals sensitive data (Cap emploi:
        #: a disability): never named to a partner that only discovers a notebook.
        self.discreet: frozenset[str] = frozenset(
            kind for kind, entry in raw["types_acteur"].items() if entry.get("discret")
        )
        #: Purpose → the categories a read stating it is served.
        self.served: dict[str, frozenset[str]] = {
            purpose: frozenset(categories)
            for purpose, categories in (raw.get("categories_par_finalite") or {}).items()
        }
        self.actors: dict[str, ActorRights] = {
            kind: ActorRights(
                libelle=str(entry["libelle"]),
                portee=entry["portee"],
                finalites=tuple(entry["finalites"]),
                droits={c: frozenset(r) for c, r in (entry.get("droits") or {}).items()},
                limites={c: tuple(p) for c, p in (entry.get("limites") or {}).items()},
                nir=bool(entry.get("nir", False)),
                national=entry.get("national", False),
                reserve=frozenset(entry.get("reserve_au_referent") or ()),
            )
            for kind, entry in raw["types_acteur"].items()
        }
        self._withheld_json: dict[
            tuple[str, tuple[Override, ...], str | None, frozenset[str], bool], bytes
        ] = {}
        self._with_overrides: dict[tuple[str, tuple[Override, ...]], ActorRights] = {}
        self._effective: dict[tuple[str, tuple[Override, ...], frozenset[str]], ActorRights] = {}
        self.check()

    def check(self) -> None:
        """Refuse a matrix naming an unknown category, right, scope or purpose, or a kind
        steering a territory marked national."""
        problems = []
        if set(self.categories) != set(CATEGORIES):
            problems.append(f"catégories : attendu {sorted(CATEGORIES)}")
        if set(self.served) != set(self.finalites):
            problems.append("categories_par_finalite : une liste par finalité, et rien d'autre")
        for purpose, categories in self.served.items():
            if unknown_categories := categories - set(self.categories):
                problems.append(f"{purpose} : catégories inconnues {sorted(unknown_categories)}")
        for kind, actor in self.actors.items():
            if actor.portee not in ("territoire", "relation", "bac_a_sable", "aucune"):
                problems.append(f"{kind} : portée inconnue {actor.portee!r}")
            for purpose in actor.finalites:
                if purpose not in self.finalites:
                    problems.append(f"{kind} : finalité inconnue {purpose!r}")
            for category, rights in actor.droits.items():
                if category not in self.categories:
                    problems.append(f"{kind} : catégorie inconnue {category!r}")
                if unknown := rights - set(RIGHTS):
                    problems.append(f"{kind}/{category} : droits inconnus {sorted(unknown)}")
                if "export" in rights and self.categories[category].get("sensible"):
                    problems.append(f"{kind}/{category} : export d'une catégorie sensible")
            if unknown_reserved := actor.reserve - set(self.categories):
                problems.append(f"{kind} : réserve au référent inconnue {sorted(unknown_reserved)}")
            for category in actor.limites:
                if not actor.may("ecriture", category):
                    problems.append(f"{kind}/{category} : limite d'écriture sans écriture")
            if not isinstance(actor.national, bool):
                problems.append(f"{kind} : « national » vaut true ou false")
            elif actor.national and actor.steers:
                # The operator of a territory is of such a kind: it cannot be national.
                problems.append(f"{kind} : un type qui pilote un territoire n'est pas national")
        if problems:
            raise ValueError("Matrice d'habilitation invalide : " + " ; ".join(problems))

    def actor(self, type_acteur: str, overrides: tuple[Override, ...] = ()) -> ActorRights:
        """The rights of an actor kind (an unknown kind has none), with an organisation's
        grants and restrictions applied."""
        base = self.actors.get(type_acteur) or ActorRights("", "aucune", (), {}, {})
        if not overrides:
            return base
        key = (type_acteur, overrides)
        found = self._with_overrides.get(key)
        if found is None:
            rights = {c: set(r) for c, r in base.droits.items()}
            for category, right, effect in overrides:
                if effect == GRANT:
                    rights.setdefault(category, set()).add(right)
                else:
                    rights.get(category, set()).discard(right)
            found = ActorRights(
                base.libelle,
                base.portee,
                base.finalites,
                {c: frozenset(r) for c, r in rights.items()},
                base.limites,
                base.nir,
                base.national,
                base.reserve,
            )
            self._with_overrides[key] = found
        return found

    def effective(
        self, type_acteur: str, overrides: tuple[Override, ...], scopes: frozenset[str]
    ) -> ActorRights:
        """The rights of a caller: its actor kind's, with its organisation's overrides, within
        its token's scopes (computed once per combination)."""
        key = (type_acteur, overrides, scopes)
        found = self._effective.get(key)
        if found is None:
            found = self._effective[key] = self.actor(type_acteur, overrides).within(scopes)
        return found

    def check_override(
        self, category: str, right: str, effect: str, guarantees: str | None
    ) -> None:
        """Refuse an override naming an unknown category, right or effect, or a grant to export
        sensitive data without recorded guarantees (R. 263-5 II)."""
        if category not in self.categories:
            raise ValueError(f"catégorie inconnue « {category} »")
        if right not in RIGHTS:
            raise ValueError(f"droit inconnu « {right} » ; droits : {', '.join(RIGHTS)}")
        if effect not in (GRANT, RESTRICTION):
            raise ValueError(f"effet inconnu « {effect} »")
        sensitive = self.categories[category].get("sensible")
        if effect == GRANT and right == "export" and sensitive and not (guarantees or "").strip():
            raise ValueError(
                "l'export d'une catégorie sensible demande les garanties de sécurité consignées"
            )

    def withheld(
        self,
        type_acteur: str,
        overrides: tuple[Override, ...] = (),
        purpose: str | None = None,
        reserved_denied: frozenset[str] = frozenset(),
        referent_structure: bool = False,
    ) -> list[dict[str, str]]:
        """The categories a caller may not read (for ``purpose``, when given; without the
        reserved categories ``reserved_denied`` its agent is not served), with the reason and
        the legal basis. Free text the matrix does not grant is served to the notebook's
        ``referent_structure``, and to the others as far as they wrote it.

        Listed whatever the notebook holds: the list reveals nothing about the person.
        """
        base = self.actor(type_acteur)
        actor = self.actor(type_acteur, overrides)
        served = self.served.get(purpose, frozenset(CATEGORIES)) if purpose else None
        withheld = []
        for c in CATEGORIES:
            if c == FREE_TEXT:
                # Served to its author, whatever the kind may read: the purpose decides first.
                if served is not None and c not in served:
                    reason = OUTSIDE_PURPOSE
                elif actor.may("lecture", c) or referent_structure:
                    continue
                else:
                    reason = AUTHOR_OR_REFERENT
            elif not actor.may("lecture", c):
                reason = RESTRICTED if base.may("lecture", c) else NOT_HABILITATED
            elif served is not None and c not in served:
                reason = OUTSIDE_PURPOSE
            elif c in reserved_denied:
                reason = RESERVED
            else:
                continue
            withheld.append({"categorie": c, "raison": reason, "base_legale": self.base_legale})
        return withheld

    def withheld_json(
        self,
        type_acteur: str,
        overrides: tuple[Override, ...] = (),
        purpose: str | None = None,
        reserved_denied: frozenset[str] = frozenset(),
        referent_structure: bool = False,
    ) -> bytes:
        """:meth:`withheld` as served, encoded once per combination."""
        key = (type_acteur, overrides, purpose, reserved_denied, referent_structure)
        encoded = self._withheld_json.get(key)
        if encoded is None:
            encoded = self._withheld_json[key] = orjson.dumps(self.withheld(*key))
        return encoded

    def readable(
        self, actor: ActorRights, purpose: str | None, *, referent_structure: bool = False
    ) -> frozenset[str]:
        """The categories ``actor`` is served for ``purpose``: what it may read (with every
        free text, as a notebook's ``referent_structure``), narrowed to what the purpose
        serves."""
        readable = actor.readable | ({FREE_TEXT} if referent_structure else set())
        served = self.served.get(purpose) if purpose else None
        return readable if served is None else readable & served

    def serves_free_text(self, purpose: str | None) -> bool:
        """Does ``purpose`` serve free text (at least what the caller wrote)?"""
        return purpose is None or FREE_TEXT in self.served.get(purpose, frozenset(CATEGORIES))

    def to_markdown(self) -> str:
        """The matrix as a readable table (docs/habilitations.md is generated from it)."""
        letters = {"lecture": "L", "ecriture": "É", "export": "X", "identification": "I"}
        categories = list(self.categories)
        lines = [
            f"# Matrice d'habilitation {self.version}",
            "",
            "Généré par `carnet habilitations export` depuis `gateway/data/habilitations.yaml` ;"
            " publié à `GET /v1/habilitations`.",
            "",
            f"Base légale : {self.base_legale}.",
            "",
            "L : lecture · É : écriture · X : export vers le système du partenaire ·"
            " I : identification (retrouver ou créer un carnet) · — : rien. Une écriture limitée"
            " à certains champs les indique entre parenthèses. « NIR » : le type d'acteur peut"
            " transmettre un NIR et retrouver un carnet par lui. « (réf.) » : réservé à l'agent"
            " référent désigné ou aux agents habilités pour la catégorie. Opérateur : qui administre les"
            " organisations du type et leurs clients (`national` : un opérateur national"
            " seulement ; `territoire` : l'opérateur du territoire).",
            "",
            "| type d'acteur | portée | opérateur | "
            + " | ".join(f"{self.categories[c]['libelle']} (`{c}`)" for c in categories)
            + " | finalités |",
            "|" + "---|" * (len(categories) + 4),
        ]
        for kind, actor in self.actors.items():
            cells = []
            for category in categories:
                rights = [letters[r] for r in RIGHTS if actor.may(r, category)]
                limits = actor.limites.get(category)
                text = " ".join(rights) or "—"
                if limits:
                    text += " (" + ", ".join(f"`{p}`" for p in limits) + ")"
                if category in actor.reserve:
                    text += " (réf.)"
                cells.append(text)
            purposes = ", ".join(actor.finalites) or "—"
            scope = actor.portee + (" ; NIR" if actor.nir else "")
            lines.append(
                f"| {actor.libelle} (`{kind}`) | {scope}"
                f" | {'national' if actor.national else 'territoire'} | "
                + " | ".join(cells)
                + f" | {purposes} |"
            )
        lines += ["", "Finalités :", ""]
        lines += [
            f"- `{code}` : {label} — sert : "
            + ", ".join(f"`{c}`" for c in categories if c in self.served.get(code, ()))
            for code, label in self.finalites.items()
        ]
        return "\n".join(lines) + "\n"

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "base_legale": self.base_legale,
            "categories": self.categories,
            "finalites": self.finalites,
            "categories_par_finalite": {p: sorted(c) for p, c in self.served.items()},
            "types_acteur": {
                kind: {
                    "libelle": actor.libelle,
                    "portee": actor.portee,
                    "finalites": list(actor.finalites),
                    "droits": {c: sorted(r) for c, r in actor.droits.items()},
                    "limites": {c: list(p) for c, p in actor.limites.items()},
                    "nir": actor.nir,
                    "reserve_au_referent": sorted(actor.reserve),
                    "national": actor.national,
                }
                for kind, actor in self.actors.items()
            },
        }


@cache
def load_matrix(path: Path | None = None) -> Matrix:
    source = path or Path(str(resources.files("gateway") / "data" / "habilitations.yaml"))
    return Matrix(yaml.safe_load(source.read_text(encoding="utf-8")))
