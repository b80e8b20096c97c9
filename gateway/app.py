"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response

from connectors import Registry
from gateway import __version__, sealing
from gateway.agents.routes import router as agents_router
from gateway.auth import keys
from gateway.auth.server import ASSERTION_ALGORITHMS, AUTH_METHODS, TokenServer
from gateway.auth.tokens import ExternalIssuer, TokenService
from gateway.connectors.loader import Connectors, connector_registry
from gateway.connectors.routes import router as connectors_router
from gateway.connectors.service import SyncService
from gateway.container import Gateway, gateway_of
from gateway.errors import install_error_handlers
from gateway.feed.routes import router as feed_router
from gateway.followup.routes import router as followup_router
from gateway.habilitation import load_matrix
from gateway.habilitation.categories import ProjectionCache
from gateway.habilitation.journal import AccessJournal
from gateway.habilitation.matrix import SCOPES
from gateway.habilitation.routes import router as habilitation_router
from gateway.imports.routes import PREFIX as IMPORTS_PREFIX
from gateway.imports.routes import router as imports_router
from gateway.imports.routes import start_job
from gateway.imports.service import ImportService
from gateway.limits import BodySizeLimit
from gateway.notebooks.routes import hot_router as hot_notebook_routes
from gateway.notebooks.routes import router as notebooks_router
from gateway.notebooks.search import router as search_router
from gateway.notebooks.states import StateCache
from gateway.organisations.routes import journal_router
from gateway.organisations.routes import router as admin_router
from gateway.outgoing import outgoing_bodies
from gateway.referential.routes import router as referential_router
from gateway.responses import OrjsonResponse
from gateway.settings import Settings
from gateway.storage import connectors as connector_health
from gateway.storage.database import Database
from gateway.subscriptions.routes import admin_router as deliveries_admin_router
from gateway.subscriptions.routes import router as subscriptions_router
from gateway.subscriptions.worker import Worker
from gateway.validation.examples import openapi_examples
from gateway.validation.limiter import TokenBuckets
from gateway.validation.routes import PREFIX as VALIDATION_PREFIX
from gateway.validation.routes import router as validation_router
from referential import KnownSections, Validator, default_validator, payload_schema

DESCRIPTION = """\
Passerelle d'échange de données de l'insertion sociale et professionnelle : les systèmes
d'information des partenaires déposent ce qu'ils savent d'une personne et lisent un carnet
consolidé, validé contre le référentiel national.

Authentification : jeton OAuth2 (client credentials, `POST /oauth/token`), porté en
`Authorization: Bearer …`. Toutes les erreurs suivent la RFC 9457 (`application/problem+json`)
avec une liste `errors` de `{pointer, code, message}`.
"""


#: Allocations between two collections of the youngest generation in a server process.
YOUNG_COLLECTION_THRESHOLD = 20_000


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    validator: Validator | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """The gateway. The database must be migrated (``carnet db upgrade``, done by ``serve``).

    The connectors enabled by ``settings.connecteurs`` are loaded from ``registry`` (default:
    the entry points of the group ``carnet.connectors``); one that cannot load raises
    :class:`connectors.ConnectorLoadError`, which stops start-up.
    """
    settings = settings or Settings()
    database = database or Database(settings.database_url)
    validator = validator or default_validator()
    matrix = load_matrix()
    registry = registry or connector_registry()
    enabled = Connectors.load(settings.connecteurs, registry, matrix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start(app)
        checkpoints = database.checkpoints()
        if checkpoints is not None:
            checkpoints.start()
        # Everything loaded so far (referential, models, routes) lives as long as the process:
        # keep it out of the garbage collector's generations so that collections stay short.
        gc.collect()
        gc.freeze()
        # A write allocates a few thousand containers (the validated payload, the merged
        # state, the view) that reference counting frees: at the default threshold (700) the
        # collector ran about once per write, for a tenth of its time, finding little.
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        # Reads' journal entries spooled by a stopped process go into the journal first.
        await gateway.journal.settle()
        # Imports left waiting or running by a stopped process resume (or fail cleanly).
        for job_id in gateway.imports.pending():
            start_job(app, job_id)
        deliverer, delivering = None, None
        if settings.livraisons_integrees:
            deliverer = Worker(
                database,
                heartbeat=timedelta(minutes=settings.battement_minutes),
                connectors=enabled,
                settings=settings,
                keyring=gateway.keyring,
                matrix=matrix,
                validator=validator,
            )
            delivering = threading.Thread(target=deliverer.run, name="livraisons", daemon=True)
            delivering.start()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # left for the next start otherwise
                await gateway.journal.settle()
            # Running imports stop after their current foyer, to resume at the next start.
            gateway.imports.stop()
            await asyncio.gather(*gateway.import_tasks, return_exceptions=True)
            if deliverer is not None and delivering is not None:
                deliverer.stop()
                await asyncio.to_thread(delivering.join, 30)
                deliverer.close()
            if checkpoints is not None:
                checkpoints.stop()
            gateway.token_server.remote_keys.close()
            gateway.tokens.close()
            # Pulls still running in the background end with the process (their state says so).
            for task in list(gateway.pulls):
                task.cancel()
            await asyncio.gather(*gateway.pulls, return_exceptions=True)
            await enabled.aclose()

    app = FastAPI(
        title="Carnet de bord — passerelle",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
        # FastAPI's OpenTelemetry instrumentation looks for the providers of a configured SDK
        # at every request (a tenth of a notebook read): on when the deployment asks for it.
        telemetry={"tracing": settings.telemetry, "metrics": settings.telemetry, "logs": False},
    )
    states = StateCache(settings.state_cache_size)
    known = KnownSections(settings.known_sections_bytes) if settings.known_sections_bytes else None
    gateway = Gateway(
        settings=settings,
        keyring=sealing.keyring(settings),
        database=database,
        validator=validator,
        states=states,
        known_sections=known,
        matrix=matrix,
        connectors=enabled,
        outgoing={body.kind: body for body in outgoing_bodies(registry, skip_unloadable=True)},
        sync=SyncService(
            database,
            validator,
            matrix,
            enabled,
            interval=timedelta(seconds=settings.connecteur_intervalle_secondes),
            not_found_interval=timedelta(
                seconds=settings.connecteur_intervalle_introuvable_secondes
            ),
            states=states,
            known=known,
        ),
        imports=ImportService(
            database,
            validator,
            matrix,
            enabled,
            spool=Path(settings.imports_dossier),
            states=states,
            max_bytes=settings.imports_max_octets,
        ),
        journal=AccessJournal(database),
        projections=ProjectionCache(
            settings.projection_cache_size, settings.projection_cache_bytes
        ),
        anonymous_validation=(
            TokenBuckets(settings.validation_anonymous_per_minute)
            if settings.validation_anonymous_per_minute
            else None
        ),
    )
    app.state.gateway = gateway

    def start(app: FastAPI) -> None:
        # The models of every supported version, built before the first payload declaring one.
        for version in validator.referential.supported_versions():
            validator.for_version(version)
        with database.write() as session:
            signing = keys.load_or_create(session)
            for entry in enabled:
                connector_health.ensure_health(session, entry.connector.slug)

        def reload() -> keys.SigningKeys:
            with database.read() as session:
                return keys.load(session)

        external = None
        if settings.idp_issuer and settings.idp_jwks_uri:
            external = ExternalIssuer(
                issuer=settings.idp_issuer,
                jwks_uri=settings.idp_jwks_uri,
                audience=settings.idp_audience or settings.audience,
                client_claim=settings.idp_client_claim,
                scope_claim=settings.idp_scope_claim,
            )
        tokens = TokenService(
            signing,
            settings.issuer,
            settings.audience,
            settings.token_lifetime_seconds,
            loader=reload,
            external=external,
        )
        gateway.tokens = tokens
        gateway.token_server = TokenServer(
            database.read,
            lambda: tokens.keys,
            settings.issuer,
            settings.audience,
            settings.token_lifetime_seconds,
            matrix,
            database.write,
        )

    gateway.start = start
    install_error_handlers(app)
    # The validation routes read their bodies themselves: a batch is streamed line by line.
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, exempt=(VALIDATION_PREFIX, IMPORTS_PREFIX)
    )
    # The notebook routes first: routing walks the routes in order, and they are the hot ones.
    # The hottest two are the application's own: an included router's routes are matched
    # twice per request (to choose the router, then the route), a thirtieth of a read.
    app.router.routes.extend(hot_notebook_routes.routes)
    # Before the notebooks' routes: their /{carnet_id}/{section} would take these paths.
    app.include_router(followup_router)
    app.include_router(search_router)
    app.include_router(notebooks_router)
    app.include_router(validation_router)
    app.include_router(referential_router)
    app.include_router(habilitation_router)
    app.include_router(admin_router)
    app.include_router(agents_router)
    app.include_router(journal_router)
    app.include_router(connectors_router)
    app.include_router(imports_router)
    app.include_router(feed_router)
    app.include_router(subscriptions_router)
    app.include_router(deliveries_admin_router)

    @app.post(
        "/oauth/token",
        tags=["authentification"],
        summary="Obtenir un jeton d'accès (client credentials ; client_secret_basic ou client_secret_post)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "scope": {"type": "string"},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
        responses={
            200: {"description": "Jeton d'accès (JWT, RFC 9068)."},
            400: {"description": "Requête invalide (RFC 6749)."},
            401: {"description": "Client inconnu, désactivé ou secret invalide."},
        },
    )
    async def token(request: Request) -> Response:
        server = gateway_of(request).token_server
        return await server.token_response(request)

    @app.get(
        "/.well-known/jwks.json", tags=["authentification"], summary="Clés publiques des jetons"
    )
    def jwks(request: Request) -> dict[str, Any]:
        tokens = gateway_of(request).tokens
        return tokens.keys.public_jwks()

    @app.get(
        "/.well-known/oauth-authorization-server",
        tags=["authentification"],
        summary="Métadonnées du serveur d'autorisation (RFC 8414)",
    )
    def authorization_server_metadata() -> dict[str, Any]:
        issuer = settings.issuer.rstrip("/")
        return {
            "issuer": settings.issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "scopes_supported": list(SCOPES),
            "response_types_supported": [],
            "service_documentation": f"{issuer}/docs",
        }

    @app.get("/healthz", tags=["exploitation"], summary="État de la passerelle")
    def healthz() -> dict[str, str]:
        return {"statut": "ok", "version": __version__}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for name, kind in (
                ("CarnetEntrant", "carnet"),
                ("ContributionEntrante", "contribution"),
            ):
                components.update(_component(payload_schema(validator, kind), name))
            _document_problems(document)
            _embed_examples(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Problème RFC 9457 (application/problem+json).",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Code stable du problème."},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "pointer": {"type": "string", "description": "Pointeur JSON dans le corps."},
                    "parameter": {"type": "string", "description": "Paramètre de la requête."},
                    "in": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "attendu": {"type": "string"},
                    "suggestion": {"type": "string"},
                },
            },
        },
    },
}
_DEFAULT_DESCRIPTIONS = {
    "400": "Paramètres ou en-têtes invalides.",
    "401": "Jeton absent ou invalide.",
    "404": "Ressource introuvable.",
}


def _document_problems(document: dict[str, Any]) -> None:
    """Every error answer of the API documented as it is sent: problem+json.

    FastAPI documents a 422 with its own error shape for parameter errors; the gateway answers
    those with a 400 problem. Routes with path parameters can answer 404, authenticated ones 401.
    """
    schemas = document["components"]["schemas"]
    schemas["Probleme"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Probleme"}}}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json")
            if fastapi_422 is not None:
                del responses["422"]
            parameters = operation.get("parameters", [])
            needed = []
            if parameters or "requestBody" in operation:
                needed.append("400")
            if "{" in path:
                needed.append("404")
            if path.startswith("/v1/carnets"):
                needed.append("401")
            for status in needed:
                responses.setdefault(status, {"description": _DEFAULT_DESCRIPTIONS[status]})
            if path == "/oauth/token":
                continue
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = problem
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _embed_examples(document: dict[str, Any]) -> None:
    """The valid examples of the conformance sample, on the validation request body."""
    operation = document["paths"][VALIDATION_PREFIX + "{kind}"]["post"]
    body = dict(operation["requestBody"])
    content = dict(body["content"])
    content["application/json"] = {
        **content["application/json"],
        "examples": openapi_examples(),
    }
    operation["requestBody"] = {**body, "content": content}


def _component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A published JSON Schema as OpenAPI components: its $defs hoisted, references rewritten."""
    import orjson

    text = orjson.dumps(schema).decode().replace('"#/$defs/', '"#/components/schemas/')
    rewritten: dict[str, Any] = orjson.loads(text)
    defs = rewritten.pop("$defs", {})
    for key in ("$schema", "$id"):
        rewritten.pop(key, None)
    return {**defs, name: rewritten}
