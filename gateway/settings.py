"""Settings of the gateway, read from the environment (prefix ``CARNET_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # An invalid value is never echoed in the error (keys, secrets).
    model_config = SettingsConfigDict(
        env_prefix="CARNET_", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = Field(
        default="sqlite:///var/carnet.db",
        description="SQLAlchemy URL: a SQLite file (default) or postgresql+psycopg://…",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    issuer: str = Field(default="http://127.0.0.1:8000", description="Issuer of access tokens.")
    audience: str = Field(default="carnet-de-bord", description="Audience of access tokens.")
    token_lifetime_seconds: int = Field(default=600, ge=30, le=3600)
    idempotency_hours: int = Field(default=24, ge=24)
    identification_echecs_max: int = Field(
        default=20,
        ge=1,
        description=(
            "Identifications infructueuses permises à un client par fenêtre ; au-delà, 429 et une "
            "alerte au journal de son organisation."
        ),
    )
    identification_fenetre_minutes: int = Field(
        default=60, ge=1, description="Durée de la fenêtre des identifications infructueuses."
    )
    rattachement_automatique: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Par territoire, les types d'acteur dont les demandes de rattachement sont acceptées "
            'd\'office (journalisé comme tel), par exemple {"26": ["france_travail"]}.'
        ),
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-Proto/For headers are trusted (TLS termination).",
    )
    state_cache_size: int = Field(
        default=256,
        ge=0,
        description="Decoded notebook states kept in memory between writes (0: none).",
    )
    known_sections_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description=(
            "Sections of contributions found valid, kept in memory (bytes in all) so that a section "
            "sent again as it was is not validated again (0: none)."
        ),
    )
    projection_cache_size: int = Field(
        default=1024,
        ge=0,
        description=(
            "Notebook views kept in memory, per version, whole and projected per readable "
            "categories (entries)."
        ),
    )
    projection_cache_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        description="Bytes of the notebook views kept in memory, in all (0: none).",
    )
    idp_issuer: str | None = Field(
        default=None,
        description="Identity provider whose access tokens are also accepted (its issuer, iss).",
    )
    idp_jwks_uri: str | None = Field(default=None, description="Its public keys (https).")
    idp_audience: str | None = Field(
        default=None, description="Audience its tokens carry for the gateway (default: audience)."
    )
    idp_client_claim: str = Field(
        default="azp",
        description="Claim of its tokens naming the client, registered in the gateway (azp, client_id…).",
    )
    idp_scope_claim: str = Field(
        default="scope", description="Claim of its tokens giving the scopes."
    )
    page_size_max: int = Field(default=100, ge=1, le=1000)
    telemetry: bool = Field(
        default=False,
        description=(
            "FastAPI's OpenTelemetry traces and request metrics, for the providers of an "
            "OpenTelemetry SDK configured in the process."
        ),
    )
    connecteurs: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description=(
            "Connecteurs activés (JSON) : slug → {territoire: client_id}. Dans chaque territoire, "
            "le connecteur écrit comme ce client enregistré (son organisation, son type d'acteur)."
        ),
    )
    imports_dossier: str = Field(
        default="var/imports",
        description="Dossier où un fichier importé attend d'être lu (effacé à la fin de l'import).",
    )
    imports_max_octets: int = Field(
        default=512 * 1024 * 1024, ge=1024, description="Taille maximale d'un fichier importé."
    )
    connecteur_intervalle_secondes: int = Field(
        default=3600,
        ge=0,
        description="Pas de nouvel appel au partenaire pour un carnet avant ce délai.",
    )
    connecteur_intervalle_introuvable_secondes: int = Field(
        default=900,
        ge=0,
        description="Même délai après « introuvable », « ambigu » ou « identité non certifiée ».",
    )
    validation_max_lines: int = Field(
        default=1_000_000,
        ge=1,
        description="Lines of one NDJSON batch sent to POST /v1/validation/{kind} (each line at most max_body_bytes).",
    )
    validation_anonymous_per_minute: int = Field(
        default=0,
        ge=0,
        description=(
            "Validation requests per minute and client address without a token (0: anonymous "
            "validation is off). Counted per process: a token bucket per address."
        ),
    )
    validation_anonymous_max_lines: int = Field(
        default=1000, ge=1, description="Lines of one NDJSON batch validated without a token."
    )

    changements_retention_jours: float = Field(
        default=30,
        gt=0,
        description="Durée de conservation du journal des changements (et validité d'un curseur du flux).",
    )

    livraisons_retention_jours: float = Field(
        default=7,
        gt=0,
        description="Durée de conservation des livraisons livrées (carnet livraisons purger).",
    )
    battements_retention_jours: float = Field(
        default=1,
        gt=0,
        description="Durée de conservation des battements, livrés ou non (carnet livraisons purger).",
    )
    livraisons_integrees: bool = Field(
        default=False,
        description="Livrer les webhooks depuis le processus du serveur (sinon : carnet worker).",
    )
    battement_minutes: int = Field(
        default=60,
        ge=1,
        description="Intervalle des événements « battement » des abonnements qui les demandent.",
    )

    cles_secrets: SecretStr | None = Field(
        default=None,
        description=(
            "Clés qui scellent au repos les secrets de signature des abonnements (AES-256-GCM) : "
            "« kid:clé » (32 octets en base64), séparées par des virgules ; la première scelle, "
            "toutes ouvrent (rotation). Obligatoire en production ; sinon, absente, celle du "
            "fichier cles_secrets_fichier (créé au premier usage)."
        ),
    )
    cles_secrets_fichier: str = Field(
        default="var/cles_secrets",
        description="Fichier des clés de scellement hors production, quand CARNET_CLES_SECRETS est absente.",
    )

    @field_validator("cles_secrets")
    @classmethod
    def _keys_are_readable(cls, value: SecretStr | None) -> SecretStr | None:
        from gateway.sealing import Keyring

        if value is not None:
            Keyring.parse(value.get_secret_value())  # InvalidKeys: a ValueError, no key shown
        return value

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.environment == "production":
            if self.database_url.startswith("sqlite"):
                raise ValueError("CARNET_DATABASE_URL must name a PostgreSQL server in production")
            if not self.issuer.startswith("https://"):
                raise ValueError("CARNET_ISSUER must be an https URL in production")
            if self.cles_secrets is None:
                raise ValueError("CARNET_CLES_SECRETS must be set in production")
        if bool(self.idp_issuer) != bool(self.idp_jwks_uri):
            raise ValueError("CARNET_IDP_ISSUER and CARNET_IDP_JWKS_URI go together")
        return self
