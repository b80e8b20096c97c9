"""Wire models of the follow-up group and of join requests (French field names)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.storage import followup as repository
from gateway.storage.tables import JoinRequest

Role = Literal["referent", "membre"]
Base = Literal["orientation", "mission_territoriale", "rattachement_accepte", "creation"]
Statut = Literal["en_attente", "accepte", "refuse"]


def _visible(text: str) -> str:
    """Refuse control, format (bidirectional overrides, zero-width) and line or paragraph
    separator characters: the text is shown to another organisation as it was typed."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        raise ValueError("caractères de contrôle ou invisibles refusés")
    return text


#: One line of professional wording, shown to who decides.
Motif = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_visible)]


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
    agent_referent: str | None = Field(
        default=None, description="L'agent référent désigné (structure référente)."
    )


class GroupeSuivi(BaseModel):
    carnet_id: str
    membres: list[Membre]


class Suivant(BaseModel):
    """Une structure qui suit la personne, telle que la découverte la montre : son nom, son
    rôle et son canal de contact — ni son type d'acteur, ni depuis quand, ni pourquoi."""

    nom: str
    role: Role
    contact: str | None = None


class Decouverte(BaseModel):
    """Ce qu'apprend d'un carnet existant un appelant hors du besoin d'en connaître : qu'il
    existe, son identifiant et qui suit la personne (sauf les structures dont la seule
    présence révèle une donnée sensible, comme Cap emploi). Rien n'a été appliqué."""

    id: str
    cree: Literal[False] = False
    acces: Literal["decouverte"] = "decouverte"
    groupe_suivi: list[Suivant]
    rattachement: str = Field(description="Où demander à rejoindre le groupe de suivi.")


class NouveauMembre(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: Annotated[str, Field(min_length=1, max_length=36)]
    role: Role = "membre"
    agent_id: Annotated[
        str | None,
        Field(
            max_length=36,
            description="Pour la structure référente : son agent désigné référent de la personne.",
        ),
    ] = None


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
        agent_referent=row.agent_id,
    )


def followers(found: list[repository.Member], discreet: frozenset[str]) -> list[Suivant]:
    """The follow-up group as a discovery shows it: members of the ``discreet`` actor kinds
    (whose involvement reveals health data) are left out."""
    return [
        Suivant(nom=m.nom, role=m.row.role, contact=m.contact)
        for m in found
        if m.type_acteur not in discreet
    ]


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
