"""Pydantic models of France Travail's payloads (private to the connector).

Tolerant by design (connectors.md §1.10): every field is optional and nullable except codes and
``valeur``; codes are JSON strings (a number is a malformed payload); unknown fields are kept
aside and counted, never a reason to reject a dossier.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, field_validator


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def unknown_fields(self) -> int:
        """Fields of this payload and of the payloads it holds that the models do not know."""
        count = len(self.model_extra or {})
        for name in type(self).model_fields:
            count += _unknown(getattr(self, name))
        return count


def _unknown(value: Any) -> int:
    if isinstance(value, Wire):
        return value.unknown_fields()
    if isinstance(value, list):
        return sum(_unknown(item) for item in value)
    return 0


def _null_string(value: Any) -> Any:
    """FT sends the string "null" for null in some answers: read it as null."""
    return None if value == "null" else value


# -- recherche usager --------------------------------------------------------------------------


class Recherche(Wire):
    codeRetour: StrictStr
    message: str | None = None
    jetonUsager: str | None = None
    identifiant: str | None = None
    topIdentiteCertifiee: str | None = None

    _nulls = field_validator("jetonUsager", "identifiant", "topIdentiteCertifiee", mode="before")(
        _null_string
    )


# -- shared items ------------------------------------------------------------------------------


class Agent(Wire):
    """An FT staff member: read, never kept (legal-frame.md)."""

    id: str | None = None
    nom: str | None = None
    prenom: str | None = None
    structure: str | None = None


class Item(Wire):
    """A situation, an objectif or a besoin: a code and a value."""

    code: StrictStr
    libelle: str | None = None
    valeur: StrictStr
    dateExploration: str | None = None
    agent: Agent | None = None


class Contrainte(Wire):
    code: StrictStr
    libelle: str | None = None
    valeur: StrictStr
    date: str | None = None
    dateExploration: str | None = None
    estPrioritaire: bool | None = None
    impact: str | None = None
    situations: list[Item] | None = None
    objectifs: list[Item] | None = None


# -- dossier individu v1 -----------------------------------------------------------------------


class BesoinsV1(Wire):
    idMetierChiffre: str | None = None
    nomMetier: str | None = None
    typologie: str | None = None
    statut: str | None = None
    estPrioritaire: bool | None = None
    dateMiseAJour: str | None = None
    besoins: list[Item] | None = None


class ContraintesV1(Wire):
    conseiller: str | None = None
    dateDeModification: str | None = None
    code: str | None = None
    libelle: str | None = None
    contraintes: list[Contrainte] | None = None


class DossierV1(Wire):
    besoinsParDiagnosticIndividuDtos: list[BesoinsV1] | None = None
    contraintesIndividusDto: ContraintesV1 | None = None


# -- dossier agrégé v4 -------------------------------------------------------------------------


class DeclareSansContrainte(Wire):
    flag: bool | None = None
    date: str | None = None


class ThematiqueContrainte(Wire):
    agent: Agent | None = None
    dateExploration: str | None = None
    code: str | None = None
    libelle: str | None = None
    declareSansContrainte: DeclareSansContrainte | None = None
    contraintes: list[Contrainte] | None = None


class ThematiqueBesoins(Wire):
    code: str | None = None
    libelle: str | None = None
    besoins: list[Item] | None = None


class DiagnosticMetier(Wire):
    idDiagnostic: str | None = None
    idMetierChiffre: str | None = None
    nomMetier: str | None = None
    typologie: str | None = None
    codeTypologie: str | None = None
    codeSousTypologie: str | None = None
    codeRome: str | None = None
    codeAppellation: str | None = None
    statut: str | None = None
    estPrioritaire: bool | None = None
    agent: Agent | None = None
    dateMiseAJour: str | None = None
    dateMiseAJourProjet: str | None = None
    estCreationPartenaire: bool | None = None


class BesoinsV4(Wire):
    diagnostic: DiagnosticMetier | None = None
    dateDerniereExplorationBesoin: str | None = None
    agentDerniereExplorationBesoin: Agent | None = None
    thematiquesBesoins: list[ThematiqueBesoins] | None = None


class PouvoirAgir(Wire):
    confiance: str | None = None
    accompagnement: str | None = None
    resultatAnalyse: str | None = None
    agent: Agent | None = None
    dateExploration: str | None = None


class AutonomieNumerique(Wire):
    dateExploration: str | None = None
    agent: Agent | None = None
    contrainte: Contrainte | None = None
    besoin: Item | None = None


class DossierV4(Wire):
    besoinsParDiagnostic: list[BesoinsV4] | None = None
    thematiqueContrainte: ThematiqueContrainte | None = None
    pouvoirAgir: PouvoirAgir | None = None
    autonomieNumerique: AutonomieNumerique | None = None
