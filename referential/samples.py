"""Made-up notebooks for demos, sandboxes, benchmarks and tests.

Everything here is fictitious and deterministic: the same :class:`random.Random` state gives the
same notebook. The samples follow the fixture rules of the connectors specification: NIRs use the
"born abroad" département ``99`` with the non-existent country code ``999`` and carry a correct
key, e-mails use ``example.org``, SIRETs start with ``999999999`` and pass the Luhn check, CAF/MSA
organism numbers are ``998`` and ``999``.

A generated notebook is a JSON-ready ``dict`` (dates and timestamps are ISO strings) that fills
every section and is valid against the published schema of the current referential version::

    import json, random
    from referential import samples

    body = json.dumps(samples.generate_carnet(random.Random(42), size="large")).encode()
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any

from referential._referential import Referential, current_referential
from referential._types import nir_key, siret_is_valid

__all__ = ["SIZES", "generate_carnet", "made_up_nir", "made_up_siret"]

#: The notebook sizes :func:`generate_carnet` knows; ``large`` is about 12 KB of JSON.
SIZES = ("small", "normal", "large")

#: Every date is drawn before this day, so that samples do not depend on the clock.
_ANCHOR = date(2025, 12, 31)

_PRENOMS = (
    "Léa", "Zoé", "Hélène", "Chloé", "Inès", "Amina", "Camille", "Manon", "Sofia", "Jeanne",
    "Noé", "Théo", "Lucas", "Mehdi", "Jérôme", "Karim", "Hugo", "Yanis", "Étienne", "Malik",
)  # fmt: skip
_NOMS = (
    "Aubépine", "Bellerive", "Castelmaure", "Dufresnoy", "Estrelle", "Fontaval", "Grandmoulin",
    "Hautecombe", "Issarté", "Jolibois", "Kervélec", "Lavandier", "Montclair", "Noirval",
    "Orsenne", "Pradelle", "Quiberval", "Rochemaure", "Saint-Oudry", "Vaucelle",
)  # fmt: skip
_COMMUNES = (
    "Villefictive", "Saint-Exemple-sur-Loire", "Bourg-Imaginaire", "Port-Inventé", "Montessai",
    "Val-de-Démo", "La Ferté-Modèle", "Castelnau-Fictif",
)  # fmt: skip
_VOIES = ("rue", "avenue", "chemin", "impasse", "boulevard", "allée", "place")
_NOMS_VOIES = (
    "des Exemples", "du Bac à Sable", "de la Démonstration", "des Essais", "Jean Fictif",
    "des Tilleuls Imaginaires", "du Prototype",
)  # fmt: skip
_STRUCTURES = (
    "Association Tremplin Exemple", "Mission locale de Villefictive", "CCAS de Bourg-Imaginaire",
    "Agence France Travail Démo", "Conseil départemental fictif — service insertion",
    "Atelier chantier d'insertion Le Prototype", "Maison des solidarités d'Exemple",
)  # fmt: skip
#: (ROME code, appellation) pairs.
_METIERS = (
    ("F1606", "Peintre en bâtiment"),
    ("K2204", "Agent / Agente de nettoyage"),
    ("N1103", "Préparateur / Préparatrice de commandes"),
    ("J1501", "Aide-soignant / Aide-soignante"),
    ("G1603", "Commis / Commise de cuisine"),
    ("A1203", "Jardinier / Jardinière d'espaces verts"),
    ("K1302", "Auxiliaire de vie sociale"),
    ("D1106", "Vendeur / Vendeuse en alimentation"),
    ("M1607", "Secrétaire"),
    ("H2909", "Monteur-câbleur / Monteuse-câbleuse"),
    ("N4105", "Conducteur-livreur / Conductrice-livreuse"),
    ("I1203", "Agent / Agente de maintenance des bâtiments"),
)
_DISPOSITIFS = ("Accompagnement global", "Parcours emploi renforcé", "Accompagnement social")
_OBJETS_RDV = (
    "Premier entretien", "Point d'étape", "Signature du contrat d'engagement",
    "Entretien de diagnostic", "Atelier collectif", "Bilan de fin d'action",
)  # fmt: skip
_ACTIONS_LIBRES = (
    "Atelier théâtre d'improvisation", "Accompagnement vers le permis bateau (fictif)",
    "Rencontre avec un parrain bénévole", "Atelier cuisine solidaire",
    "Initiation à la couture", "Découverte des métiers du numérique au tiers-lieu",
)  # fmt: skip
_LIBELLES_EVENEMENT = (
    "Carnet ouvert", "Objectif ajouté", "Action mise à jour", "Rendez-vous honoré",
    "Orientation validée", "Contrat signé", "Droits mis à jour", "Note de suivi",
)  # fmt: skip
#: Time-zone offsets of metropolitan France and some overseas territories, in hours.
_OFFSETS = (0, 1, 2, 4, -3, -4)


@dataclass(frozen=True, slots=True)
class _Counts:
    telephones: int
    suspensions: int
    projets: int
    situations: tuple[int, int]
    axes: tuple[int, int]
    objectifs: tuple[int, int]
    actions: tuple[int, int]
    membres: tuple[int, int]
    rendez_vous: tuple[int, int]
    evenements: tuple[int, int]


_SIZES: dict[str, _Counts] = {
    "small": _Counts(1, 1, 1, (1, 3), (1, 1), (1, 1), (1, 1), (1, 1), (1, 1), (1, 1)),
    "normal": _Counts(2, 2, 2, (4, 10), (2, 3), (1, 2), (1, 2), (2, 3), (2, 4), (3, 6)),
    "large": _Counts(2, 3, 3, (60, 80), (3, 4), (1, 2), (1, 3), (3, 4), (5, 8), (10, 14)),
}


@dataclass(frozen=True, slots=True)
class _Pools:
    """The codes a notebook draws from, looked up once per referential."""

    version: str
    situations: tuple[str, ...]
    axes: tuple[str, ...]
    objectifs_par_axe: dict[str, tuple[str, ...]]
    actions_par_axe: dict[str, tuple[str, ...]]
    listes: dict[str, tuple[str, ...]]


@cache
def _pools(referential: Referential) -> _Pools:
    version = referential.current
    themes = referential.entries("themes", version)
    axes = tuple(e.code for e in themes if e.extra.get("role") == "axe")
    objectifs = referential.entries("objectifs", version)
    actions = referential.entries("actions", version)
    return _Pools(
        version=version,
        situations=referential.codes("situations", version),
        axes=axes,
        objectifs_par_axe={
            axe: tuple(
                e.code for e in objectifs if e.theme in referential.axis_objective_themes(axe)
            )
            for axe in axes
        },
        actions_par_axe={axe: tuple(e.code for e in actions if e.theme == axe) for axe in axes},
        listes={nom: referential.codes(nom, version) for nom in referential.lists},
    )


# -- identifiers ---------------------------------------------------------------------------------


def made_up_nir(
    rng: random.Random, *, with_key: bool | None = None, born: date | None = None
) -> str:
    """A fictitious NIR (born abroad, country ``999``): 13 characters, or 15 with its key.

    ``with_key`` None draws the length at random; ``born`` sets the year and month it encodes.
    """
    born = born or _date_between(rng, date(1950, 1, 1), date(2007, 12, 31))
    sexe = rng.choice("12")
    ordre = rng.randint(1, 999)
    nir13 = f"{sexe}{born.year % 100:02d}{born.month:02d}99999{ordre:03d}"
    if with_key is None:
        with_key = rng.random() < 0.5
    return nir13 + f"{nir_key(nir13):02d}" if with_key else nir13


def made_up_siret(rng: random.Random) -> str:
    """A fictitious SIRET: SIREN ``999999999``, four digits, and a Luhn check digit."""
    stem = f"999999999{rng.randint(0, 9999):04d}"
    for check in range(10):
        siret = f"{stem}{check}"
        if siret_is_valid(siret):
            return siret
    raise AssertionError("unreachable: one check digit always satisfies Luhn")  # pragma: no cover


# -- scalars -------------------------------------------------------------------------------------


def _date_between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _recent(rng: random.Random, years: int = 3) -> date:
    return _date_between(rng, _ANCHOR - timedelta(days=365 * years), _ANCHOR)


def _timestamp(rng: random.Random, start: date, end: date) -> str:
    day = _date_between(rng, start, end)
    offset = rng.choice(_OFFSETS)
    moment = datetime(
        day.year,
        day.month,
        day.day,
        rng.randint(8, 18),
        rng.choice((0, 15, 30, 45)),
        0,
        tzinfo=timezone(timedelta(hours=offset)),
    )
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if rng.random() < 0.7 else text


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-")


def _courriel(rng: random.Random, prenom: str, nom: str) -> str:
    return f"{_ascii(prenom)}.{_ascii(nom)}{rng.randint(1, 99)}@example.org"


def _telephone(rng: random.Random) -> str:
    mobile = rng.random() < 0.7
    first = rng.choice("67") if mobile else rng.choice("12345")
    pairs = [f"{rng.randint(0, 99):02d}" for _ in range(4)]
    style = rng.randrange(4)
    if style == 0:
        return f"0{first} " + " ".join(pairs)
    if style == 1:
        return f"0{first}" + "".join(pairs)
    if style == 2:
        return f"0{first}." + ".".join(pairs)
    return f"+33 {first} " + " ".join(pairs)


def _code_postal(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"97{rng.randint(1, 4)}{rng.randint(0, 99):02d}"
    return f"{rng.randint(1, 95):02d}{rng.randint(0, 999):03d}"


def _identifiant(prefix: str, number: int) -> str:
    return f"{prefix}-{number:04d}"


def _organisation(rng: random.Random) -> dict[str, Any]:
    organisation: dict[str, Any] = {"nom": rng.choice(_STRUCTURES)}
    if rng.random() < 0.8:
        organisation["siret"] = made_up_siret(rng)
    return organisation


def _range(rng: random.Random, bounds: tuple[int, int]) -> int:
    return rng.randint(*bounds)


# -- sections ------------------------------------------------------------------------------------


def _personne(rng: random.Random, pools: _Pools) -> dict[str, Any]:
    born = _date_between(rng, date(1955, 1, 1), date(2007, 12, 31))
    nom = rng.choice(_NOMS)
    personne: dict[str, Any] = {
        "nir": made_up_nir(rng, born=born),
        "nom": nom,
        "prenom": rng.choice(_PRENOMS),
        "date_naissance": born.isoformat(),
        "lieu_naissance": "Étranger (pays fictif)",
        "identifiants": {
            "caf_msa": {
                "organisme": rng.choice(pools.listes["organismes_prestations"]),
                "numero_organisme": rng.choice(("998", "999")),
                "matricule": str(rng.randint(1, 9_999_999)),
            },
            "france_travail": {"identifiant": f"FT-DEMO-{rng.randint(0, 10**8):08d}"},
            "si_departement": {
                "departement": rng.choice(("2A", "2B", "974", f"{rng.randint(1, 95):02d}")),
                "identifiant": f"SI-{rng.randint(0, 10**6):06d}",
            },
        },
    }
    if rng.random() < 0.3:
        personne["nom_naissance"] = rng.choice(_NOMS)
    return personne


def _coordonnees(rng: random.Random, personne: dict[str, Any], counts: _Counts) -> dict[str, Any]:
    adresse: dict[str, Any] = {
        "ligne1": f"{rng.randint(1, 120)} {rng.choice(_VOIES)} {rng.choice(_NOMS_VOIES)}",
        "code_postal": _code_postal(rng),
        "commune": rng.choice(_COMMUNES),
    }
    if rng.random() < 0.3:
        adresse["ligne2"] = f"Bâtiment {rng.choice('ABCD')}, appartement {rng.randint(1, 60)}"
    return {
        "adresse": adresse,
        "telephones": [_telephone(rng) for _ in range(counts.telephones)],
        "courriel": _courriel(rng, personne["prenom"], personne["nom"]),
    }


def _droits(rng: random.Random, pools: _Pools, counts: _Counts) -> dict[str, Any]:
    etat = rng.choice(pools.listes["etats_droit_rsa"])
    rsa: dict[str, Any] = {"etat": etat, "soumis_droits_devoirs": rng.random() < 0.8}
    if "suspendu" in etat:
        rsa["suspensions"] = [
            {
                "motif": rng.choice(pools.listes["motifs_suspension_rsa"]),
                "depuis": _recent(rng).isoformat(),
            }
            for _ in range(counts.suspensions)
        ]
    if "clos" in etat:
        rsa["motif_cloture"] = rng.choice(pools.listes["motifs_cloture_rsa"])
        rsa["date_cloture"] = _recent(rng).isoformat()
    return {
        "rsa": rsa,
        "are": rng.random() < 0.3,
        "ass": rng.random() < 0.1,
        "prime_activite": rng.random() < 0.2,
    }


def _situation(rng: random.Random, pools: _Pools, counts: _Counts) -> dict[str, Any]:
    depuis = _recent(rng, 5)
    professionnelle: dict[str, Any] = {
        "code": rng.choice(pools.listes["situations_professionnelles"]),
        "depuis": depuis.isoformat(),
    }
    if rng.random() < 0.3:
        professionnelle["jusqu_au"] = _date_between(rng, depuis, _ANCHOR).isoformat()
    projets = []
    for number, (rome, appellation) in enumerate(rng.sample(_METIERS, counts.projets), 1):
        projets.append(
            {
                "id": _identifiant("projet", number),
                "code_rome": rome,
                "appellation": appellation,
                "type_contrat": rng.choice(pools.listes["types_contrat_emploi"]),
                "duree_travail": rng.choice(pools.listes["types_duree_emploi"]),
                "rayon_mobilite_km": rng.choice((0, 5, 10, 20, 30, 50)),
                "taux_horaire_centimes": rng.randint(1_180, 2_500),
            }
        )
    return {
        "situation_professionnelle": professionnelle,
        "niveau_formation": rng.choice(pools.listes["niveaux_formation"]),
        "date_fin_dernier_emploi": _recent(rng, 6).isoformat(),
        "rqth": rng.random() < 0.1,
        "sans_domicile_fixe": rng.random() < 0.05,
        "projets_professionnels": projets,
    }


def _diagnostic(rng: random.Random, pools: _Pools, counts: _Counts) -> dict[str, Any]:
    situations = []
    for _ in range(_range(rng, counts.situations)):
        situation: dict[str, Any] = {"code": rng.choice(pools.situations)}
        if rng.random() < 0.7:
            situation["depuis"] = _recent(rng, 4).isoformat()
        situations.append(situation)
    return {"situations": situations}


def _action(rng: random.Random, pools: _Pools, axe: str, number: int) -> dict[str, Any]:
    action: dict[str, Any] = {"id": _identifiant("action", number)}
    codes = pools.actions_par_axe.get(axe, ())
    if codes and rng.random() < 0.85:
        action["code"] = rng.choice(codes)
    else:
        action["hors_referentiel"] = True
        action["libelle"] = rng.choice(_ACTIONS_LIBRES)
    action["statut"] = rng.choice(pools.listes["statuts_action"])
    if rng.random() < 0.8:
        debut = _recent(rng, 2)
        action["debut"] = debut.isoformat()
        if rng.random() < 0.5:
            action["fin"] = _date_between(rng, debut, debut + timedelta(days=180)).isoformat()
    return action


def _axes(rng: random.Random, pools: _Pools, counts: _Counts) -> list[dict[str, Any]]:
    axes = []
    objectif_number = action_number = 0
    chosen = rng.sample(pools.axes, min(len(pools.axes), _range(rng, counts.axes)))
    for theme in chosen:
        offered = pools.objectifs_par_axe.get(theme, ())
        objectifs = []
        for code in rng.sample(offered, min(len(offered), _range(rng, counts.objectifs))):
            objectif_number += 1
            objectif: dict[str, Any] = {
                "id": _identifiant("objectif", objectif_number),
                "code": code,
                "statut": rng.choice(pools.listes["statuts_objectif"]),
                "debut": _recent(rng, 2).isoformat(),
            }
            if rng.random() < 0.4:
                objectif["lie_a"] = rng.choice(pools.listes["types_contrat_parcours"])
                objectif["consentement"] = True
            actions = []
            for _ in range(_range(rng, counts.actions)):
                action_number += 1
                actions.append(_action(rng, pools, theme, action_number))
            objectif["actions"] = actions
            objectifs.append(objectif)
        axes.append({"theme": theme, "objectifs": objectifs})
    return axes


def _contrat(rng: random.Random, pools: _Pools) -> dict[str, Any]:
    signature = _recent(rng, 2)
    debut = _date_between(rng, signature, signature + timedelta(days=30))
    fin = _date_between(rng, debut + timedelta(days=90), debut + timedelta(days=730))
    return {
        "type": rng.choice(pools.listes["types_contrat_parcours"]),
        "date_signature": signature.isoformat(),
        "date_debut": debut.isoformat(),
        "date_fin": fin.isoformat(),
    }


def _accompagnement(rng: random.Random, pools: _Pools, counts: _Counts) -> dict[str, Any]:
    membres = []
    for number in range(1, _range(rng, counts.membres) + 1):
        prenom, nom = rng.choice(_PRENOMS), rng.choice(_NOMS)
        actif = number == 1 or rng.random() < 0.6
        debut = _recent(rng, 3)
        membre: dict[str, Any] = {
            "id": _identifiant("membre", number),
            "organisation": _organisation(rng),
            "professionnel": {
                "nom": nom,
                "prenom": prenom,
                "courriel": _courriel(rng, prenom, nom),
                "telephone": _telephone(rng),
            },
            "role": "referent" if number == 1 else rng.choice(pools.listes["roles_suivi"]),
            "actif": actif,
            "debut": debut.isoformat(),
        }
        if not actif:
            membre["fin"] = _date_between(rng, debut, _ANCHOR).isoformat()
        membres.append(membre)
    return {"groupe_suivi": membres}


def _orientation(rng: random.Random, pools: _Pools) -> dict[str, Any]:
    return {
        "type": rng.choice(pools.listes["types_orientation"]),
        "dispositif": rng.choice(_DISPOSITIFS),
        "structure": _organisation(rng),
        "date": _recent(rng, 2).isoformat(),
        "motif": "Orientation décidée en équipe pluridisciplinaire (motif fictif).",
    }


def _rendez_vous(rng: random.Random, pools: _Pools, counts: _Counts) -> list[dict[str, Any]]:
    rendez_vous = []
    for number in range(1, _range(rng, counts.rendez_vous) + 1):
        rdv: dict[str, Any] = {
            "id": _identifiant("rdv", number),
            "date": _timestamp(rng, _ANCHOR - timedelta(days=730), _ANCHOR),
            "statut": rng.choice(pools.listes["statuts_rendez_vous"]),
            "objet": rng.choice(_OBJETS_RDV),
        }
        if rng.random() < 0.6:
            rdv["organisation"] = _organisation(rng)
        rendez_vous.append(rdv)
    return rendez_vous


def _evenements(rng: random.Random, pools: _Pools, counts: _Counts) -> list[dict[str, Any]]:
    return [
        {
            "id": _identifiant("evt", number),
            "type": rng.choice(pools.listes["types_evenement"]),
            "date": _timestamp(rng, _ANCHOR - timedelta(days=1095), _ANCHOR),
            "libelle": rng.choice(_LIBELLES_EVENEMENT),
        }
        for number in range(1, _range(rng, counts.evenements) + 1)
    ]


# -- the notebook --------------------------------------------------------------------------------


def generate_carnet(rng: random.Random, *, size: str = "normal") -> dict[str, Any]:
    """A made-up, valid notebook filling every section, as a JSON-ready ``dict``.

    ``size`` is one of :data:`SIZES`: ``small`` keeps one item per list, ``large`` gives about
    12 KB of JSON (some 70 diagnostic situations, several axes, objectives, actions and events).
    The result depends only on ``rng``'s state and the packaged referential.
    """
    if size not in _SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {', '.join(SIZES)}")
    counts = _SIZES[size]
    pools = _pools(current_referential())
    personne = _personne(rng, pools)
    carnet: dict[str, Any] = {}
    if rng.random() < 0.5:
        carnet["version_referentiel"] = pools.version
    carnet["personne"] = personne
    carnet["coordonnees"] = _coordonnees(rng, personne, counts)
    carnet["droits"] = _droits(rng, pools, counts)
    carnet["situation"] = _situation(rng, pools, counts)
    carnet["diagnostic"] = _diagnostic(rng, pools, counts)
    carnet["axes"] = _axes(rng, pools, counts)
    carnet["contrat"] = _contrat(rng, pools)
    carnet["accompagnement"] = _accompagnement(rng, pools, counts)
    carnet["orientation"] = _orientation(rng, pools)
    carnet["rendez_vous"] = _rendez_vous(rng, pools, counts)
    carnet["evenements"] = _evenements(rng, pools, counts)
    return carnet
