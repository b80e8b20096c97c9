"""Wire models of the connector operations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.notebooks.wire import Resultat

ResultatPull = Literal[
    "applique",
    "inchange",
    "recent",
    "aucun_dossier",
    "introuvable",
    "ambigu",
    "identite_non_certifiee",
    "identite_incomplete",
]


class Compteurs(BaseModel):
    appels: int
    reussites: int
    echecs: int
    inchanges: int = Field(
        description="Dossiers identiques au précédent : pas de nouvelle version."
    )
    codes_inconnus: int = Field(description="Codes du partenaire sans correspondance, signalés.")
    champs_inconnus: int = Field(description="Champs inconnus des réponses du partenaire, tolérés.")


class Echec(BaseModel):
    le: str
    code: str


class Sante(BaseModel):
    derniere_reussite: str | None
    dernier_echec: Echec | None
    compteurs: Compteurs
    circuit: Literal["ferme", "ouvert", "semi_ouvert"]


class Connecteur(BaseModel):
    slug: str
    version: str
    description: str
    type_acteur: str = Field(
        description="Le type d'acteur dont les droits s'appliquent à ses écritures."
    )
    capacites: list[Literal["pull", "ingest", "deliver"]]
    territoires: list[str]
    sante: Sante


class ListeConnecteurs(BaseModel):
    connecteurs: list[Connecteur]


class AvertissementConnecteur(BaseModel):
    pointer: str = Field(description="Pointeur JSON dans la réponse du partenaire.")
    code: str
    message: str


class ResultatSynchronisation(BaseModel):
    connecteur: str
    carnet_id: str
    resultat: ResultatPull
    version: int = Field(description="Version du carnet après la synchronisation.")
    ecriture: Resultat | None = Field(
        description="Ce que la contribution du connecteur a fait, quand un dossier a été versé."
    )
    avertissements: list[AvertissementConnecteur]
    codes_inconnus: int
    champs_inconnus: int
    non_confirme_depuis: str | None = Field(
        description="Depuis quand le partenaire ne confirme plus ce qu'il avait transmis."
    )


#: Printable text: no control character (a line break would corrupt the partner's headers).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class AgentDemandeur(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifiant: str = Field(min_length=1, max_length=64, pattern=PRINTABLE)
    nom: str = Field(min_length=1, max_length=100, pattern=PRINTABLE)
    prenom: str = Field(min_length=1, max_length=100, pattern=PRINTABLE)


class DemandeSynchronisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: AgentDemandeur | None = Field(
        default=None,
        description=(
            "Le professionnel au nom duquel le partenaire est interrogé ; à défaut, l'appel est "
            "fait au nom de la passerelle (BATCH)."
        ),
    )
    forcer: bool = Field(
        default=False, description="Interroger le partenaire même dans le délai de fraîcheur."
    )


class EtatSynchronisation(BaseModel):
    connecteur: str
    carnet_id: str
    derniere_tentative: str | None
    derniere_reussite: str | None
    dernier_resultat: str | None = Field(
        description="Résultat de la dernière tentative (applique, inchange…, ou echec)."
    )
    non_confirme_depuis: str | None = Field(
        description="Depuis quand le partenaire ne confirme plus ce qu'il avait transmis."
    )
