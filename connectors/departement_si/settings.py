"""Settings of the département IS connector (environment prefix ``CARNET_DEPARTEMENT_SI_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DepartementSiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARNET_DEPARTEMENT_SI_", extra="ignore")

    base_url: str = Field(min_length=1, description="Racine de l'API du SI départemental.")
    token_url: str = Field(min_length=1, description="Point de jeton OAuth2 du SI départemental.")
    client_id: str = Field(min_length=1, description="Identifiant de la passerelle chez le SI.")
    client_secret: SecretStr = Field(description="Secret de la passerelle chez le SI.")
    scope: str = Field(default="", description="Portées demandées (séparées par des espaces).")
    events_path: str = Field(default="/evenements", description="Chemin des événements.")
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    #: A cached token is renewed this long before it expires.
    token_margin_seconds: float = Field(default=30.0, ge=0)
