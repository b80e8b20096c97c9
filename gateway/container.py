"""The application's services, typed, in one container: the adapters (routes, their
dependencies, the app's start and stop) read them here rather than from untyped ``app.state``
attributes (``app.state.gateway`` holds the one container)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gateway.auth.server import TokenServer
    from gateway.auth.tokens import TokenService
    from gateway.connectors.loader import Connectors
    from gateway.connectors.service import SyncService
    from gateway.habilitation.categories import ProjectionCache
    from gateway.habilitation.journal import AccessJournal
    from gateway.habilitation.matrix import Matrix
    from gateway.imports.service import ImportService
    from gateway.notebooks.states import StateCache
    from gateway.sealing import Keyring
    from gateway.settings import Settings
    from gateway.storage.database import Database
    from gateway.validation.limiter import TokenBuckets
    from referential import KnownSections, OutgoingBody, Validator


class NotStarted(RuntimeError):
    """A service the application builds at its start, asked for before."""


@dataclass(slots=True)
class Gateway:
    """Everything the application holds for its lifetime."""

    settings: Settings
    #: Seals the subscriptions' signing secrets at rest.
    keyring: Keyring
    database: Database
    validator: Validator
    states: StateCache
    known_sections: KnownSections | None
    matrix: Matrix
    connectors: Connectors
    #: The published schemas of the bodies that leave the gateway, by kind.
    outgoing: dict[str, OutgoingBody]
    sync: SyncService
    imports: ImportService
    journal: AccessJournal
    projections: ProjectionCache
    anonymous_validation: TokenBuckets | None = None
    #: Synchronisations and imports running in the background.
    pulls: set[asyncio.Task[Any]] = field(default_factory=set)
    import_tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Published schemas, rendered once each.
    schemas: dict[Any, Any] = field(default_factory=dict)
    #: What the application does at its start (keys, connectors' health, tokens).
    start: Callable[[FastAPI], None] | None = None
    _tokens: TokenService | None = None
    _token_server: TokenServer | None = None

    @property
    def tokens(self) -> TokenService:
        if self._tokens is None:
            raise NotStarted("tokens")
        return self._tokens

    @tokens.setter
    def tokens(self, value: TokenService) -> None:
        self._tokens = value

    @property
    def token_server(self) -> TokenServer:
        if self._token_server is None:
            raise NotStarted("token_server")
        return self._token_server

    @token_server.setter
    def token_server(self, value: TokenServer) -> None:
        self._token_server = value


def gateway_of(connection: HTTPConnection | FastAPI) -> Gateway:
    """The container of the application serving ``connection`` (a request), or of an app.

    On every request, several times: the request's scope is read directly (an isinstance
    check against Starlette's request classes, which are mappings, costs more)."""
    try:
        found: Gateway = connection.scope["app"].state.gateway  # type: ignore[union-attr]
    except AttributeError:
        found = connection.state.gateway
    return found
