"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth.principal import Principal
from gateway.errors import ProblemError
from gateway.organisations.repository import active_client
from gateway.storage.database import Database
from referential import Validator


class Unauthenticated(ProblemError):
    status = 401
    code = "non_authentifie"
    title = "Jeton d'accès absent, invalide ou expiré."


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_validator(request: Request) -> Validator:
    validator: Validator = request.app.state.validator
    return validator


def get_principal(request: Request) -> Principal:
    """The caller, from a valid bearer token of an active client of an active organisation."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(headers={"WWW-Authenticate": 'Bearer realm="carnet"'})
    from gateway.auth.tokens import InvalidToken

    try:
        claims = request.app.state.tokens.verify(token.strip())
    except InvalidToken:
        raise Unauthenticated(
            headers={"WWW-Authenticate": 'Bearer realm="carnet", error="invalid_token"'}
        ) from None
    database: Database = request.app.state.database
    with database.read() as session:
        found = active_client(session, str(claims["client_id"]))
    if found is None:
        raise Unauthenticated(
            headers={"WWW-Authenticate": 'Bearer realm="carnet", error="invalid_token"'}
        )
    organisation_id, type_acteur, territoires = found
    return Principal(
        client_id=str(claims["client_id"]),
        organisation_id=organisation_id,
        type_acteur=type_acteur,
        territoires=tuple(territoires),
        scopes=frozenset(str(claims.get("scope") or "").split()),
    )


DatabaseDep = Annotated[Database, Depends(get_database)]
ValidatorDep = Annotated[Validator, Depends(get_validator)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
