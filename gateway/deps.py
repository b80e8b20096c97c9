"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request

from gateway.auth.principal import Principal
from gateway.auth.tokens import InvalidToken
from gateway.errors import ProblemError
from gateway.habilitation.guard import PURPOSE_HEADER, Guard
from gateway.organisations.repository import ACTIVE_CLIENT
from gateway.storage.database import Database
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


async def get_claims(request: Request) -> dict[str, Any]:
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


async def get_principal(request: Request) -> Principal:
    """The caller, from a valid bearer token of an active client of an active organisation.

    Runs on the event loop: the client lookup is one indexed query, cheaper than a hop to the
    thread pool.
    """
    claims = await get_claims(request)
    database: Database = request.app.state.database
    found = database.fetch_one(ACTIVE_CLIENT, {"client_id": str(claims["client_id"])})
    if found is None:
        raise _unauthenticated("invalid_token")
    organisation_id, type_acteur, territoires, derogations = found
    return Principal(
        client_id=str(claims["client_id"]),
        organisation_id=organisation_id,
        type_acteur=type_acteur,
        territoires=json_list(territoires),
        scopes=frozenset(str(claims.get("scope") or "").split()),
        derogations=overrides(derogations),
    )


def overrides(value: Any) -> tuple[tuple[str, str, str], ...]:
    """The overrides column as read by a text() query."""
    return tuple(tuple(o) for o in json_list(value))  # type: ignore[misc]


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
) -> Guard:
    """The caller's rights for the purpose it states (400/403 without an allowed purpose)."""
    return Guard(request.app.state.matrix, principal, finalite)


def json_list(value: Any) -> tuple[str, ...]:
    """A JSON list column read by a text() query (SQLite hands over its text)."""
    return tuple(orjson.loads(value) if isinstance(value, str | bytes) else value)


DatabaseDep = Annotated[Database, Depends(get_database)]
ValidatorDep = Annotated[Validator, Depends(get_validator)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ClaimsDep = Annotated[dict[str, Any], Depends(get_claims)]
GuardDep = Annotated[Guard, Depends(get_guard)]
