"""Typed dependencies of the routes."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request

from gateway.agents import repository as agents
from gateway.auth.principal import Principal
from gateway.auth.tokens import AGENT_SUB, InvalidToken
from gateway.errors import InvalidParameters, ProblemError
from gateway.habilitation.guard import PURPOSE_HEADER, Guard, UnknownAgent
from gateway.habilitation.matrix import ADMINISTRATION, Matrix
from gateway.organisations.repository import ACTIVE_CLIENT
from gateway.storage.database import Database
from gateway.storage.driver import json_list
from referential import Validator


class Unauthenticated(ProblemError):
    status = 401
    code = "non_authentifie"
    title = "Jeton d'accès absent, invalide ou expiré."


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_validator(request: Request) -> Validator:
    validator: Validator = request.app.state.validator
    return validator


def _unauthenticated(error: str | None = None) -> Unauthenticated:
    challenge = 'Bearer realm="carnet"' + (f', error="{error}"' if error else "")
    return Unauthenticated(headers={"WWW-Authenticate": challenge})


def bearer_claims(request: Request) -> dict[str, Any]:
    """The claims of a valid bearer token (signature, issuer, audience, expiry); no database.

    Routes using only the claims must check the client's state themselves (the hot read does it
    in the same query as the notebook).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated()
    try:
        claims: dict[str, Any] = request.app.state.tokens.verify(token.strip())
    except InvalidToken:
        raise _unauthenticated("invalid_token") from None
    return claims


async def get_claims(request: Request) -> dict[str, Any]:
    """:func:`bearer_claims` as a dependency."""
    return bearer_claims(request)


async def get_principal(request: Request) -> Principal:
    """The caller, from a valid bearer token of an active client of an active organisation.

    Runs on the event loop: the client lookup is one indexed query, cheaper than a hop to the
    thread pool.
    """
    claims = bearer_claims(request)
    database: Database = request.app.state.database
    found = database.fetch_one(ACTIVE_CLIENT, {"client_id": str(claims["client_id"])})
    if found is None:
        raise _unauthenticated("invalid_token")
    organisation_id, type_acteur, territoires, derogations, operateur = found
    return principal_of(
        request, claims, organisation_id, type_acteur, territoires, derogations, operateur
    )


def principal_of(
    request: Request,
    claims: dict[str, Any],
    organisation_id: str,
    type_acteur: str,
    territoires: Any,
    derogations: Any,
    operateur: Any,
) -> Principal:
    """The caller, from its token's claims and its client's row as read by a text() query.

    Its scopes are those its token carries *and* its client holds now: a restriction or a
    disabled operator flag applies at once to live tokens, and an identity provider's token
    cannot carry more than the registered client may.
    """
    return _principal(
        request.app.state.matrix,
        str(claims["client_id"]),
        str(claims.get("scope") or ""),
        organisation_id,
        type_acteur,
        _hashable(territoires),
        _hashable(derogations),
        bool(operateur),
        claims.get(AGENT_SUB),
    )


@lru_cache(maxsize=4096)
def _principal(
    matrix: Matrix,
    client_id: str,
    scope: str,
    organisation_id: str,
    type_acteur: str,
    territoires: str | bytes,
    derogations: str | bytes,
    operateur: bool,
    agent_sub: str | None = None,
) -> Principal:
    """A principal is immutable, and made of these values alone: built once for each (a
    fifth of a notebook read's own work otherwise)."""
    granted = overrides(derogations)
    held = matrix.actor(type_acteur, granted).scopes + ((ADMINISTRATION,) if operateur else ())
    return Principal(
        client_id=client_id,
        organisation_id=organisation_id,
        type_acteur=type_acteur,
        territoires=json_list(territoires),
        scopes=frozenset(s for s in scope.split() if s in held),
        derogations=granted,
        agent_sub=agent_sub,
    )


def _hashable(column: Any) -> str | bytes:
    """A JSON column as a text() query reads it: SQLite's text, or PostgreSQL's value dumped."""
    return column if isinstance(column, str | bytes) else orjson.dumps(column)


def overrides(value: Any) -> tuple[tuple[str, str, str], ...]:
    """The overrides column as read by a text() query."""
    return tuple(tuple(o) for o in json_list(value))  # type: ignore[misc]


#: The header naming the agent (the person at the keyboard) a call acts through.
AGENT_HEADER = "Agent"
AGENT_MAX_LENGTH = 36
AGENT_DOC = (
    "L'agent qui agit (identifiant déclaré par l'organisation) : la santé et la justice ne sont "
    "servies qu'à l'agent référent désigné ou à un agent habilité pour elles."
)


def agent_header(request: Request) -> str | None:
    """The agent the call names (header ``Agent``), or None; 400 when malformed."""
    agent = request.headers.get(AGENT_HEADER)
    if agent is None:
        return None
    if not 0 < len(agent) <= AGENT_MAX_LENGTH or not agent.isprintable():
        raise InvalidParameters(
            errors=[
                {
                    "parameter": AGENT_HEADER,
                    "in": "header",
                    "code": "parametre_invalide",
                    "message": "En-tête « Agent » invalide : l'identifiant d'un agent.",
                }
            ]
        )
    return agent


def agent_of(request: Request, principal: Principal) -> tuple[str | None, frozenset[str]]:
    """The agent the call names, verified (an active agent of the caller's organisation: 403
    otherwise), and the reserved categories it is habilitated for. Without an Agent header,
    the agent an external identity provider's token names by its ``sub``, if registered."""
    agent = agent_header(request)
    if agent is None:
        if principal.agent_sub is None:
            return None, frozenset()
        return agents.by_sub(
            request.app.state.database, principal.agent_sub, principal.organisation_id
        )
    found = agents.habilitations(request.app.state.database, agent, principal.organisation_id)
    if found is None:
        raise UnknownAgent()
    return agent, found


async def get_guard(
    request: Request,
    principal: Annotated[Principal, Depends(get_principal)],
    finalite: Annotated[
        str | None,
        Header(
            alias=PURPOSE_HEADER,
            description="Finalité de l'accès (voir GET /v1/habilitations), par exemple accompagnement.",
        ),
    ] = None,
    agent: Annotated[str | None, Header(alias=AGENT_HEADER, description=AGENT_DOC)] = None,
) -> Guard:
    """The caller's rights for the purpose it states (400/403 without an allowed purpose),
    through the agent it names (``agent`` is read, and checked, by :func:`agent_of`)."""
    agent, habilitations = agent_of(request, principal)
    return Guard(
        request.app.state.matrix,
        principal,
        finalite,
        agent=agent,
        agent_habilitations=habilitations,
    )


DatabaseDep = Annotated[Database, Depends(get_database)]
ValidatorDep = Annotated[Validator, Depends(get_validator)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ClaimsDep = Annotated[dict[str, Any], Depends(get_claims)]
GuardDep = Annotated[Guard, Depends(get_guard)]
