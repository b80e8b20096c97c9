"""The notebook read of the core issue, before habilitation: the baseline of the read with
projection and journaling in bench/http.py.

Same token check (the gateway's TokenService and keys), same query of the client's state
and the notebook's version, same views kept in memory by version, same territory check; no
purpose, no projection, no journal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

from fastapi import FastAPI, Request
from fastapi.responses import Response

from gateway.auth import keys
from gateway.auth.tokens import TokenService
from gateway.deps import ClaimsDep
from gateway.habilitation.categories import ProjectionCache
from gateway.notebooks.errors import NotebookNotFound
from gateway.settings import Settings
from gateway.storage import notebooks as repository
from gateway.storage.database import Database
from gateway.storage.driver import json_list

settings = Settings()
database = Database(settings.database_url)
views = ProjectionCache(settings.projection_cache_size, settings.projection_cache_bytes)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    with database.read() as session:
        signing = keys.load(session)
    # The one service the bearer dependency reads from the application's container.
    app.state.gateway = SimpleNamespace(
        tokens=TokenService(
            signing, settings.issuer, settings.audience, settings.token_lifetime_seconds
        )
    )
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/v1/carnets/{carnet_id}")
async def read(request: Request, carnet_id: str, claims: ClaimsDep) -> Response:
    found = database.fetch_one(
        repository.VIEW_FOR_CLIENT,
        {"carnet_id": carnet_id, "client_id": str(claims["client_id"])},
    )
    if found is None or found[0] is None or found[1] not in json_list(found[4]):
        raise NotebookNotFound()
    stored = repository.cached_view(database, views, carnet_id, found[0])
    if stored is None:
        raise NotebookNotFound()
    return Response(stored[2], media_type="application/json")
