"""Wire models of the file imports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

StatutImport = Literal["en_attente", "en_cours", "termine", "rejete", "echec"]


class Progression(BaseModel):
    foyers_traites: int = Field(description="Foyers appliqués (chacun dans sa transaction).")
    foyers_total: int | None = Field(description="Foyers du fichier, une fois lu en entier.")


class Import(BaseModel):
    id: str
    connecteur: str
    statut: StatutImport
    sha256: str = Field(description="Empreinte SHA-256 des octets du fichier (jamais le fichier).")
    octets: int
    cree_le: str
    modifie_le: str
    progression: Progression
    rapport: dict[str, Any] | None = Field(
        description=(
            "Le rapport, une fois l'import fini : « fichier » (empreinte, TYPEFLUX, DTREF, "
            "DTCREAFLUX, HEUCREAFLUX, départements lus, statut : accepte, accepte_avec_rejets, "
            "rejete, deja_importe), « compteurs », « rejets » et « avertissements » par foyer "
            "et personne (position, ligne, code, message ; ni NIR, ni nom, ni matricule), "
            "« erreur » d'un fichier rejeté (code, ligne, colonne, octet)."
        )
    )
