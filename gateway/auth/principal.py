"""Who is calling: verified once per request from the bearer token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated OAuth2 client of an organisation."""

    client_id: str
    organisation_id: str
    type_acteur: str
    territoires: tuple[str, ...]
    scopes: frozenset[str]
    #: The organisation's overrides of the habilitation matrix: (categorie, droit, effet).
    derogations: tuple[tuple[str, str, str], ...] = ()
    #: The ``sub`` an external identity provider's token names (its agent, when registered).
    agent_sub: str | None = None

    @property
    def source(self) -> str:
        """The provenance key of what this caller writes."""
        return source_key(self.organisation_id)


def source_key(organisation_id: str) -> str:
    """The provenance key of what an organisation writes."""
    return f"organisation:{organisation_id}"
