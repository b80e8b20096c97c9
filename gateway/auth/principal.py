"""Who is calling: verified once per request from the bearer token, or named by a connector
or an import acting as a registered client. One builder, :func:`principal_of`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gateway.habilitation.matrix import ADMINISTRATION, Matrix

#: An override of the habilitation matrix for one organisation: (categorie, droit, effet).
Override = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class ClientRights:
    """What the gateway holds of an active client of an active organisation, as read at each
    request (disabling one takes effect at once)."""

    organisation_id: str
    type_acteur: str
    territoires: tuple[str, ...]
    derogations: tuple[Override, ...]
    operateur: bool


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


@lru_cache(maxsize=4096)
def principal_of(
    matrix: Matrix,
    client_id: str,
    rights: ClientRights,
    scope: str | None = None,
    agent_sub: str | None = None,
) -> Principal:
    """The caller a client's ``rights`` make: with a token's ``scope``, the scopes the token
    carries *and* the client holds now (a restriction or a disabled operator flag applies at
    once to live tokens; an identity provider's token cannot carry more than the registered
    client may); without (a connector or an import acting as the client), every scope its
    rights hold on notebooks.

    A principal is immutable and made of these values alone: built once for each (a fifth of a
    notebook read's own work otherwise)."""
    held = matrix.actor(rights.type_acteur, rights.derogations).scopes
    if scope is None:
        scopes = frozenset(held)
    else:
        held += (ADMINISTRATION,) if rights.operateur else ()
        scopes = frozenset(s for s in scope.split() if s in held)
    return Principal(
        client_id=client_id,
        organisation_id=rights.organisation_id,
        type_acteur=rights.type_acteur,
        territoires=rights.territoires,
        scopes=scopes,
        derogations=rights.derogations,
        agent_sub=agent_sub,
    )
