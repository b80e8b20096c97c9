"""The payloads of the wire contract: the notebook (*carnet*) and every section a partner pushes.

Field names are French snake case (architecture.md §4). Every coded field takes a referential
code (``code("liste")``); its accepted values are bound when the models are built for a
referential version (:mod:`referential._build`). The classes here are bound to the current
version of the packaged referential.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from referential._types import (
    ONE_LINE,
    CodeAction,
    CodeAxe,
    CodeDepartement,
    CodeEtatRsa,
    CodeMotifClotureRsa,
    CodeMotifSuspensionRsa,
    CodeNiveauFormation,
    CodeObjectif,
    CodeOrganismePrestations,
    CodePostal,
    CodeRoleSuivi,
    CodeRome,
    CodeSituation,
    CodeSituationProfessionnelle,
    CodeStatutAction,
    CodeStatutObjectif,
    CodeStatutRendezVous,
    CodeTypeContratEmploi,
    CodeTypeContratParcours,
    CodeTypeDureeEmploi,
    CodeTypeEvenement,
    CodeTypeOrientation,
    Courriel,
    Date,
    DateNaissance,
    EntierPositif,
    Horodatage,
    IdentifiantSource,
    Nir,
    PublishedVersionRef,
    Siret,
    Telephone,
    Texte,
    TexteCourt,
    TexteLong,
    birth_date_contradicts_nir,
)

MAX_ITEMS = 500
VersionReferentiel = Annotated[
    str,
    PublishedVersionRef(),
    Field(
        pattern=r"^[0-9]{4}\.[0-9]+$",
        description="Version du référentiel dans laquelle les codes sont exprimés (par défaut : la version courante).",
    ),
]


class Payload(BaseModel):
    """Base of every wire model: strict types, unknown fields refused."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
        # Keys repeat from payload to payload, values (names, dates, ids) mostly do not: caching
        # only the keys is some 5 % faster on notebooks.
        cache_strings="keys",
    )


def _period(debut: Any, fin: Any, pointer: str) -> None:
    if debut is not None and fin is not None and fin < debut:
        raise PydanticCustomError(
            "periode_invalide",
            "La date de fin ({champ}) précède la date de début.",
            {"champ": pointer},
        )


# -- personne --------------------------------------------------------------------------------


class IdentifiantCafMsa(Payload):
    organisme: CodeOrganismePrestations
    numero_organisme: Annotated[
        str, Field(pattern=r"^[0-9]{3}$", description="Numéro de l'organisme (NUMORG), 3 chiffres.")
    ]
    matricule: Annotated[
        str,
        Field(
            pattern=r"^[0-9]{1,15}$",
            description="Numéro allocataire (MATRICULE), jusqu'à 15 chiffres.",
        ),
    ]


class IdentifiantFranceTravail(Payload):
    identifiant: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9-]+$",
            description="Identifiant France Travail de la personne (identifiant_unique_de ou identifiant demandeur).",
        ),
    ]


class IdentifiantSiDepartement(Payload):
    departement: CodeDepartement
    identifiant: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=ONE_LINE,
            description="Identifiant de la personne dans le SI du département.",
        ),
    ]


class IdentifiantsPartenaires(Payload):
    caf_msa: IdentifiantCafMsa | None = None
    france_travail: IdentifiantFranceTravail | None = None
    si_departement: IdentifiantSiDepartement | None = None


class Personne(Payload):
    """Identity and partner identifiers (category ``identite``; the NIR is a restricted field)."""

    nir: Nir | None = None
    nom: TexteCourt
    nom_naissance: TexteCourt | None = None
    prenom: TexteCourt
    date_naissance: DateNaissance
    lieu_naissance: TexteCourt | None = None
    identifiants: IdentifiantsPartenaires | None = None

    @model_validator(mode="after")
    def _birth_date_in_the_nir(self) -> Personne:
        if self.nir is not None and birth_date_contradicts_nir(self.nir, self.date_naissance):
            raise PydanticCustomError(
                "date_naissance_incoherente_nir",
                "La date de naissance ne correspond pas à l'année ou au mois de naissance inscrits "
                "dans le NIR.",
                {"champ": "date_naissance"},
            )
        return self


#: How the schemas describe a free-text field (the category ``texte_libre`` of the matrix).
FREE_TEXT_NOTE = (
    "Texte libre : servi à l'organisation qui l'a écrit, à la structure référente et aux types "
    "d'acteur que la matrice y habilite ; absent pour les autres (catégorie texte_libre dans "
    "« masques »)."
)


# -- coordonnees -----------------------------------------------------------------------------


class Adresse(Payload):
    ligne1: Texte
    ligne2: Texte | None = None
    code_postal: CodePostal
    commune: TexteCourt


class Coordonnees(Payload):
    adresse: Adresse | None = None
    telephones: Annotated[list[Telephone], Field(max_length=5)] = []
    courriel: Courriel | None = None


# -- droits ----------------------------------------------------------------------------------


class SuspensionRsa(Payload):
    motif: CodeMotifSuspensionRsa
    depuis: Date | None = None


class DroitRsa(Payload):
    etat: CodeEtatRsa
    suspensions: Annotated[list[SuspensionRsa], Field(max_length=30)] = []
    motif_cloture: CodeMotifClotureRsa | None = None
    date_cloture: Date | None = None
    soumis_droits_devoirs: bool | None = None


class Droits(Payload):
    rsa: DroitRsa | None = None
    are: bool | None = None
    ass: bool | None = None
    prime_activite: bool | None = None


# -- situation -------------------------------------------------------------------------------


class SituationProfessionnelle(Payload):
    code: CodeSituationProfessionnelle
    depuis: Date | None = None
    jusqu_au: Date | None = None

    @model_validator(mode="after")
    def _dates(self) -> SituationProfessionnelle:
        _period(self.depuis, self.jusqu_au, "jusqu_au")
        return self


class ProjetProfessionnel(Payload):
    id: IdentifiantSource | None = None
    code_rome: CodeRome | None = None
    appellation: Texte | None = Field(default=None, description=FREE_TEXT_NOTE)
    type_contrat: CodeTypeContratEmploi | None = None
    duree_travail: CodeTypeDureeEmploi | None = None
    rayon_mobilite_km: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        default=None, description="Rayon de mobilité en kilomètres (1 000 au plus)."
    )
    taux_horaire_centimes: EntierPositif | None = None
    supprime: bool = Field(default=False, description="Retire ce projet déposé par la même source.")


class Situation(Payload):
    situation_professionnelle: SituationProfessionnelle | None = None
    niveau_formation: CodeNiveauFormation | None = None
    date_fin_dernier_emploi: Date | None = None
    rqth: bool | None = Field(
        default=None,
        description="Reconnaissance de la qualité de travailleur handicapé (catégorie sante_handicap).",
    )
    sans_domicile_fixe: bool | None = None
    projets_professionnels: Annotated[list[ProjetProfessionnel], Field(max_length=20)] = []


# -- diagnostic ------------------------------------------------------------------------------


class SituationDiagnostic(Payload):
    code: CodeSituation
    depuis: Date | None = None
    supprime: bool = Field(
        default=False,
        description="Retire cette situation déposée par la même source (elle ne l'est jamais par absence).",
    )


class Diagnostic(Payload):
    situations: Annotated[list[SituationDiagnostic], Field(max_length=MAX_ITEMS)] = []


# -- axes, objectifs, actions ----------------------------------------------------------------


class Action(Payload):
    """A referential action (``code``) or a free label flagged ``hors_referentiel``."""

    id: IdentifiantSource | None = None
    code: CodeAction | None = None
    hors_referentiel: bool = False
    libelle: Annotated[str, Field(min_length=1, max_length=120, pattern=ONE_LINE)] | None = Field(
        default=None,
        description="Libellé libre (120 caractères au plus) d'une action hors référentiel. "
        + FREE_TEXT_NOTE,
    )
    statut: CodeStatutAction
    debut: Date | None = None
    fin: Date | None = None

    @model_validator(mode="after")
    def _code_or_free_label(self) -> Action:
        if self.hors_referentiel:
            if self.code is not None or self.libelle is None:
                raise PydanticCustomError(
                    "action_hors_referentiel",
                    "Une action hors référentiel porte un libellé et pas de code.",
                )
        elif self.code is None or self.libelle is not None:
            raise PydanticCustomError(
                "action_code_requis",
                "Une action porte un code du référentiel, ou « hors_referentiel » avec un libellé.",
            )
        _period(self.debut, self.fin, "fin")
        return self


class Objectif(Payload):
    id: IdentifiantSource | None = None
    code: CodeObjectif
    statut: CodeStatutObjectif
    lie_a: CodeTypeContratParcours | None = None
    consentement: bool | None = Field(
        default=None,
        description="La personne a donné son accord (requis quand l'objectif est lié à un contrat).",
    )
    debut: Date | None = None
    actions: Annotated[list[Action], Field(max_length=100)] = []


class Axe(Payload):
    theme: CodeAxe
    objectifs: Annotated[list[Objectif], Field(max_length=100)] = []


# -- contrat, accompagnement, orientation, rendez-vous, événements ---------------------------


class Contrat(Payload):
    type: CodeTypeContratParcours
    date_signature: Date | None = None
    date_debut: Date | None = None
    date_fin: Date | None = None

    @model_validator(mode="after")
    def _dates(self) -> Contrat:
        _period(self.date_debut, self.date_fin, "date_fin")
        return self


class Organisation(Payload):
    nom: Texte
    siret: Siret | None = None


class Professionnel(Payload):
    nom: TexteCourt
    prenom: TexteCourt
    courriel: Courriel | None = None
    telephone: Telephone | None = None


class MembreSuivi(Payload):
    id: IdentifiantSource | None = None
    organisation: Organisation
    professionnel: Professionnel | None = None
    role: CodeRoleSuivi
    actif: bool
    debut: Date | None = None
    fin: Date | None = None

    @model_validator(mode="after")
    def _dates(self) -> MembreSuivi:
        _period(self.debut, self.fin, "fin")
        return self


class Accompagnement(Payload):
    groupe_suivi: Annotated[list[MembreSuivi], Field(max_length=50)] = []


class Orientation(Payload):
    type: CodeTypeOrientation
    dispositif: Texte | None = Field(default=None, description=FREE_TEXT_NOTE)
    structure: Organisation | None = None
    date: Date
    motif: TexteLong | None = Field(default=None, description=FREE_TEXT_NOTE)


class RendezVous(Payload):
    id: IdentifiantSource
    date: Horodatage
    statut: CodeStatutRendezVous
    organisation: Organisation | None = None
    objet: Texte | None = Field(default=None, description=FREE_TEXT_NOTE)


class Evenement(Payload):
    id: IdentifiantSource
    type: CodeTypeEvenement
    date: Horodatage
    libelle: Texte | None = Field(default=None, description=FREE_TEXT_NOTE)


# -- the notebook ----------------------------------------------------------------------------


class _Sections(Payload):
    personne: Personne | None = None
    version_referentiel: VersionReferentiel | None = None
    observe_le: Horodatage | None = Field(
        default=None,
        description=(
            "Date à laquelle la source a observé ces données (par défaut : la réception). Une "
            "observation plus ancienne ne remplace jamais une plus récente."
        ),
    )
    coordonnees: Coordonnees | None = None
    droits: Droits | None = None
    situation: Situation | None = None
    diagnostic: Diagnostic | None = None
    axes: Annotated[list[Axe], Field(max_length=20)] = []
    contrat: Contrat | None = None
    accompagnement: Accompagnement | None = None
    orientation: Orientation | None = None
    rendez_vous: Annotated[list[RendezVous], Field(max_length=MAX_ITEMS)] = []
    evenements: Annotated[list[Evenement], Field(max_length=MAX_ITEMS)] = []


class Carnet(_Sections):
    """A whole notebook as a partner sends it: the person and any of its sections."""

    territoire: CodeDepartement | None = Field(
        default=None,
        description="Département du carnet (par défaut : le territoire de l'organisation, s'il est unique).",
    )
    personne: Personne


class Contribution(_Sections):
    """What one source knows about a person at one time: any subset of the sections."""


#: The payload kinds a partner can send and validate, by wire name.
PAYLOAD_KINDS: dict[str, type[Payload]] = {
    "carnet": Carnet,
    "contribution": Contribution,
    "personne": Personne,
    "coordonnees": Coordonnees,
    "droits": Droits,
    "situation": Situation,
    "diagnostic": Diagnostic,
    "axes": Axe,
    "contrat": Contrat,
    "accompagnement": Accompagnement,
    "orientation": Orientation,
    "rendez_vous": RendezVous,
    "evenements": Evenement,
}
#: The sections of a notebook, in wire order.
Section = Literal[
    "personne",
    "coordonnees",
    "droits",
    "situation",
    "diagnostic",
    "axes",
    "contrat",
    "accompagnement",
    "orientation",
    "rendez_vous",
    "evenements",
]
SECTIONS: tuple[str, ...] = get_args(Section)
