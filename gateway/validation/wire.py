"""Response models of the validation API (documentation of the wire contract)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class Constat(Wire):
    pointer: str = Field(description="Pointeur JSON (RFC 6901) dans le contenu ; vide : sa racine.")
    code: str = Field(description="Code stable du constat (voir la documentation des erreurs).")
    message: str = Field(description="Message en français.")
    attendu: str | None = Field(
        default=None, description="La valeur, la forme ou la liste attendue."
    )
    suggestion: str | None = Field(
        default=None, description="Le code que vous vouliez sans doute dire."
    )


class RapportValidation(Wire):
    """The verdict on one payload: valid when it has no error (warnings never invalidate)."""

    type: str
    valide: bool
    version_referentiel: str = Field(
        description="Version du référentiel dans laquelle le contenu est exprimé."
    )
    erreurs: list[Constat]
    avertissements: list[Constat]


class ConstatGroupe(Constat):
    nombre: int = Field(description="Nombre d'occurrences (une par ligne concernée).")
    lignes: list[list[int]] = Field(
        description="Plages de lignes [première, dernière] où le constat se répète."
    )
    lignes_tronquees: bool | None = Field(
        default=None, description="Trop de plages distinctes : seules les premières sont listées."
    )


class RapportLot(Wire):
    """The verdict on an NDJSON batch, its findings grouped over the lines they occur on."""

    type: str
    version_referentiel: str
    valide: bool
    nombre_lignes: int = Field(
        description="Lignes portant un contenu (les lignes vides sont sautées)."
    )
    lignes_valides: int
    lignes_invalides: int
    nombre_erreurs: int
    nombre_avertissements: int
    erreurs: list[ConstatGroupe]
    avertissements: list[ConstatGroupe]
    tronque: bool = Field(
        description="Trop de constats distincts : les comptes restent exacts, la liste est partielle."
    )
