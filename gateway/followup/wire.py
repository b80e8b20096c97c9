"""Wire models of the follow-up group and of join requests (French field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.followup import repository
from gateway.storage.tables import JoinRequest

Role = Literal["referent", "membre"]
Base = Literal["orientation", "mission_territoriale", "rattachement_accepte", "creation"]
Statut = Literal["en_attente", "accepte", "refuse"]
#: One line of professional wording (no control characters).
Motif = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


class OrganisationSuivi(BaseModel):
    """Une structure qui suit la personne, et comment la joindre (canal professionnel)."""

    id: str
    nom: str
    type_acteur: str
    contact: str | None = None


class Membre(BaseModel):
    id: str
    organisation: OrganisationSuivi
    role: Role
    base: Base = Field(description="Ce qui fonde l'appartenance au groupe de suivi.")
    depuis: datetime
    jusqu_au: datetime | None = None


class GroupeSuivi(BaseModel):
    carnet_id: str
    membres: list[Membre]


class Decouverte(BaseModel):
    """Ce qu'apprend d'un carnet existant un appelant hors du besoin d'en connaître : qu'il
    existe, son identifiant et qui suit la personne. Rien n'a été appliqué."""

    id: str
    cree: Literal[False] = False
    acces: Literal["decouverte"] = "decouverte"
    groupe_suivi: list[Membre]
    rattachement: str = Field(description="Où demander à rejoindre le groupe de suivi.")


class NouveauMembre(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: Annotated[str, Field(min_length=1, max_length=36)]
    role: Role = "membre"


class NouvelleDemande(BaseModel):
    model_config = ConfigDict(extra="forbid")

    motif: Motif


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accepte", "refuse"]
    motif: Motif | None = None


class Demande(BaseModel):
    id: str
    carnet_id: str
    organisation_id: str
    motif: str
    statut: Statut
    automatique: bool
    demande_le: datetime
    decide_le: datetime | None = None
    motif_decision: str | None = None


class Demandes(BaseModel):
    carnet_id: str
    demandes: list[Demande]


def member(found: repository.Member) -> Membre:
    row = found.row
    return Membre(
        id=row.id,
        organisation=OrganisationSuivi(
            id=row.organisation_id,
            nom=found.nom,
            type_acteur=found.type_acteur,
            contact=found.contact,
        ),
        role=row.role,
        base=row.base,
        depuis=row.depuis,
        jusqu_au=row.jusqu_au,
    )


def request(row: JoinRequest) -> Demande:
    return Demande(
        id=row.id,
        carnet_id=row.carnet_id,
        organisation_id=row.organisation_id,
        motif=row.motif,
        statut=row.statut,
        automatique=row.automatique,
        demande_le=row.demande_le,
        decide_le=row.decide_le,
        motif_decision=row.motif_decision,
    )
