"""Settings of the CAF/MSA connector (prefix ``CARNET_CAF_MSA_``): the parser's bounds."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CafMsaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARNET_CAF_MSA_", extra="ignore")

    profondeur_max: int = Field(
        default=16, ge=4, le=64, description="Profondeur maximale des éléments (le format en a 7)."
    )
    texte_max: int = Field(
        default=4096,
        ge=64,
        le=1_048_576,
        description="Taille maximale du texte d'un élément, en caractères (le format : 200).",
    )
    lecture_octets: int = Field(
        default=65_536, ge=1024, description="Taille des blocs lus dans le fichier."
    )
