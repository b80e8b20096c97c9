"""Settings of the France Travail connector (environment prefix ``CARNET_FT_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class FranceTravailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARNET_FT_", extra="ignore")

    client_id: str = Field(min_length=1, description="Identifiant de l'application chez FT.")
    client_secret: SecretStr = Field(description="Secret de l'application chez FT.")
    generation: Literal["v4", "v1"] = Field(
        default="v4",
        description="v4 : recherche usager v2 (jeton usager) et dossier v4 ; v1 : /partenaire.",
    )
    api_url: str = "https://api.francetravail.io"
    token_url_agent: str = "https://proxyproconnect.francetravail.net/connexion/oauth2/access_token"
    token_url_partenaire: str = "https://entreprise.francetravail.fr/connexion/oauth2/access_token"
    scopes_v4: str = Field(
        default="api_rechercher-usagerv2 rechercheusager profil_accedant api_diagnosticargumentev4",
        description="Portées du royaume /agent, exactement celles de l'abonnement FT.",
    )
    scopes_v1: str = "api_rechercher-usagerv1 api_diagnosticargumentev1"
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=60.0, gt=0)
    #: A cached token is renewed this long before it expires.
    token_margin_seconds: float = Field(default=10.0, ge=0)
    retry_attempts: int = Field(default=4, ge=1, le=10)
    retry_base_seconds: float = Field(default=0.5, ge=0)
    retry_cap_seconds: float = Field(default=8.0, ge=0)
    retry_total_wait_seconds: float = Field(default=30.0, ge=0)
    retry_after_default_seconds: float = Field(default=60.0, ge=0)
    rate_limit_per_second: float = Field(
        default=10.0,
        ge=0,
        description="Appels par seconde au plus depuis un processus (0 : sans limite).",
    )
    circuit_threshold: int = Field(default=5, ge=1)
    circuit_cooldown_seconds: float = Field(default=60.0, ge=0)
