"""The notebook read of the core issue, before habilitation: the baseline of the read with
projection and journaling in bench/http.py.

Same token check (the gateway's TokenService and keys), same single query of the client's state
and the stored view, same territory check; no purpose, no projection, no journal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

from gateway.auth import keys
from gateway.auth.tokens import TokenService
from gateway.deps import ClaimsDep, json_list
from gateway.notebooks import repository
from gateway.notebooks.errors import NotebookNotFound
from gateway.settings import Settings
from gateway.storage.database import Database

settings = Settings()
database = Database(settings.database_url)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    with database.read() as session:
        signing = keys.load(session)
    app.state.tokens = TokenService(
        signing, settings.issuer, settings.audience, settings.token_lifetime_seconds
    )
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/v1/carnets/{carnet_id}")
async def read(request: Request, carnet_id: str, claims: ClaimsDep) -> Response:
    found = database.fetch_one(
        repository.VIEW_FOR_CLIENT,
        {"carnet_id": carnet_id, "client_id": str(claims["client_id"])},
    )
    if found is None or found[0] is None or found[2] not in json_list(found[6]):
        raise NotebookNotFound()
    return Response(found[0], media_type="application/json")
