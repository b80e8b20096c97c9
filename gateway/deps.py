"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from gateway.auth.principal import ClientRights, Principal, principal_of
from gateway.auth.tokens import AGENT_SUB, InvalidToken
from gateway.container import gateway_of
from gateway.errors import InvalidParameters, ProblemError
from gateway.habilitation.guard import PURPOSE_HEADER, Guard, UnknownAgent
from gateway.storage import agents, organisations
from gateway.storage.database import Database
from referential import Validator


class Unauthenticated(ProblemError):
    status = 401
    code = "non_authentifie"
    title = "Jeton d'accès absent, invalide ou expiré."


async def get_database(request: Request) -> Database:
    database: Database = gateway_of(request).database
    return database


async def get_validator(request: Request) -> Validator:
    validator: Validator = gateway_of(request).validator
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
        claims: dict[str, Any] = gateway_of(request).tokens.verify(token.strip())
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
    rights = organisations.active_client(gateway_of(request).database, str(claims["client_id"]))
    if rights is None:
        raise _unauthenticated("invalid_token")
    return token_principal(request, claims, rights)


def token_principal(request: Request, claims: dict[str, Any], rights: ClientRights) -> Principal:
    """The caller a bearer token's ``claims`` name, with its client's ``rights`` now."""
    return principal_of(
        gateway_of(request).matrix,
        str(claims["client_id"]),
        rights,
        str(claims.get("scope") or ""),
        claims.get(AGENT_SUB),
    )


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
            gateway_of(request).database, principal.agent_sub, principal.organisation_id
        )
    found = agents.habilitations(gateway_of(request).database, agent, principal.organisation_id)
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
        gateway_of(request).matrix,
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
