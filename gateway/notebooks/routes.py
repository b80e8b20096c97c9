"""The notebook API: create-or-find, contributions, reads and search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypedDict

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response

from gateway import pagination
from gateway.auth.tokens import AGENT_SUB
from gateway.container import gateway_of
from gateway.deps import (
    AGENT_DOC,
    AGENT_HEADER,
    ClaimsDep,
    DatabaseDep,
    GuardDep,
    Unauthenticated,
    ValidatorDep,
    agent_header,
    agent_of,
    bearer_claims,
    get_principal,
    token_principal,
)
from gateway.errors import InvalidParameters, ProblemError
from gateway.followup.wire import Decouverte, followers
from gateway.habilitation.categories import FREE_TEXT, ProjectionCache, served
from gateway.habilitation.guard import PURPOSE_HEADER, Guard, UnknownAgent
from gateway.habilitation.journal import AccessJournal, journal_page
from gateway.habilitation.matrix import ADMINISTRATION
from gateway.idempotency import EmbeddingResponse, Rerender, run_write, run_write_async
from gateway.notebooks import wire
from gateway.notebooks.errors import NotebookNotFound
from gateway.notebooks.replays import under_current_rights
from gateway.notebooks.service import NotebookService, WriteResult, embed, etag, parse_if_match
from gateway.notebooks.throttle import Throttle
from gateway.responses import OrjsonResponse
from gateway.routing import header_parameter, lean_route
from gateway.storage import agents, followup
from gateway.storage import notebooks as repository
from gateway.storage.database import Database
from gateway.storage.driver import json_list
from gateway.storage.organisations import client_rights, is_dpo
from referential import Validator
from referential.models import Section

router = APIRouter(prefix="/v1/carnets", tags=["carnets"])
#: The notebook read and the contribution, registered on the application's own router (see
#: gateway/app.py): FastAPI resolves the routes of an included router twice per request.
hot_router = APIRouter(prefix="/v1/carnets", tags=["carnets"])

CARNET_ID_MAX_LENGTH = 36
CarnetId = Annotated[
    str, Path(description="Identifiant du carnet.", max_length=CARNET_ID_MAX_LENGTH)
]
#: :data:`CarnetId` as documented by routes that read it themselves.
CARNET_ID_PARAMETER = {
    "name": "carnet_id",
    "in": "path",
    "required": True,
    "description": "Identifiant du carnet.",
    "schema": {"type": "string", "maxLength": CARNET_ID_MAX_LENGTH},
}
AGENT_PARAMETER = header_parameter(AGENT_HEADER, AGENT_DOC)
PURPOSE_PARAMETER = header_parameter(
    PURPOSE_HEADER, "Finalité de l'accès, par exemple accompagnement."
)
IDEMPOTENCY_KEY_DOC = ("Idempotency-Key", "Rejouer la même requête rend la même réponse.")
PREFER_DOC = (
    "Prefer",
    "RFC 7240 : « return=representation » ajoute le carnet consolidé à la réponse d'une "
    "contribution ; « return=minimal » l'enlève de celle d'une création.",
)
IF_MATCH_DOC = ("If-Match", "ETag attendu du carnet (écriture conditionnelle).")
IdempotencyKey = Annotated[
    str | None, Header(alias=IDEMPOTENCY_KEY_DOC[0], description=IDEMPOTENCY_KEY_DOC[1])
]
Prefer = Annotated[str | None, Header(description=PREFER_DOC[1])]
IfMatch = Annotated[str | None, Header(alias=IF_MATCH_DOC[0], description=IF_MATCH_DOC[1])]

#: The largest journal sequence number any store holds (a signed 64-bit integer).
SEQ_MAX = 2**63 - 1
PURPOSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Finalité absente."},
    403: {"description": "Finalité non autorisée à votre type d'acteur."},
}
_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Finalité absente."},
    401: {"description": "Jeton absent ou invalide."},
    403: {
        "description": (
            "Territoire hors de ceux de l'organisation, finalité non autorisée, ou données d'une "
            "catégorie que votre type d'acteur ne peut pas enregistrer (erreurs par pointeur)."
        )
    },
    409: {"description": "Identité ambiguë ou conflictuelle."},
    412: {"description": "Version périmée (If-Match)."},
    413: {"description": "Corps trop volumineux."},
    422: {"description": "Contenu invalide : erreurs localisées par pointeur JSON."},
}
_BODY_DOC = {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}


def path_carnet_id(request: Request) -> str:
    """The ``carnet_id`` path parameter, checked as :data:`CarnetId` would be."""
    carnet_id: str = request.path_params["carnet_id"]
    if len(carnet_id) > CARNET_ID_MAX_LENGTH:
        raise InvalidParameters(
            errors=[
                {
                    "parameter": "carnet_id",
                    "in": "path",
                    "code": "parametre_invalide",
                    "message": "Paramètre « carnet_id » invalide.",
                }
            ]
        )
    return carnet_id


def notebook_service(
    request: Request, session: Any, validator: Validator, guard: Guard
) -> NotebookService:
    gateway = gateway_of(request)
    database: Database = gateway.database
    return NotebookService(
        session,
        validator,
        guard,
        lock=database.lock,
        states=gateway.states,
        known=gateway.known_sections,
        on_commit=database.on_commit,
        throttle=Throttle.of(gateway.settings),
    )


def _write_response(
    result: WriteResult,
    guard: Guard,
    validator: Validator,
    *,
    status: int,
    location: bool = False,
    representation: bool = True,
) -> Response:
    headers = {"ETag": etag(result.row.version)}
    if location:
        headers["Location"] = f"/v1/carnets/{result.row.id}"
    if not representation:
        headers["Preference-Applied"] = "return=minimal"
    head = result.body(None)
    if not representation:
        return Response(head, status_code=status, headers=headers, media_type="application/json")
    readable, withheld = guard.served(result.referent, result.referent_structure)
    notebook, _ = served(
        result.row.vue, result.row.categories, readable, withheld, validator, own=guard.own
    )
    return EmbeddingResponse(
        embed(head, notebook),
        head=head,
        carnet_id=result.row.id,
        status_code=status,
        headers=headers,
    )


class _WriteOptions(TypedDict):
    journal: Callable[[str], dict[str, Any]]
    rerender: Rerender


def _write(guard: Guard, validator: Validator, carnet_id: str | None) -> _WriteOptions:
    """How a notebook write journals its replays and refusals, and renders a replay again
    (under the caller's current rights)."""
    return {
        "journal": lambda outcome: guard.entry("ecriture", carnet_id, [], outcome),
        "rerender": under_current_rights(guard, validator),
    }


def _discovery(session: Any, guard: Guard, carnet_id: str) -> Response:
    """What a caller outside the need to know learns of a notebook it identified: that it
    exists, its id, and who follows it (no section, nothing applied)."""
    found = Decouverte(
        id=carnet_id,
        groupe_suivi=followers(followup.members(session, carnet_id), guard.matrix.discreet),
        rattachement=f"/v1/carnets/{carnet_id}/rattachements",
    )
    return Response(
        found.model_dump_json().encode(),
        status_code=200,
        media_type="application/json",
        headers={"Location": f"/v1/carnets/{carnet_id}"},
    )


def _wants_representation(prefer: str | None, default: bool) -> bool:
    """RFC 7240 ``Prefer: return=representation`` or ``return=minimal``."""
    if prefer:
        tokens = {token.strip().lower() for token in prefer.split(",")}
        if "return=representation" in tokens:
            return True
        if "return=minimal" in tokens:
            return False
    return default


# The hottest route first: routing tries the routes in the order they are declared.
@lean_route(
    hot_router,
    "/{carnet_id}",
    methods=["GET"],
    summary="Lire le carnet consolidé (les catégories que vous pouvez lire)",
    response_model=wire.CarnetVue,
    responses={
        304: {"description": "Inchangé (If-None-Match)."},
        **PURPOSE_RESPONSES,
        404: {"description": "Carnet introuvable."},
    },
    openapi_extra={
        "parameters": [
            CARNET_ID_PARAMETER,
            PURPOSE_PARAMETER,
            AGENT_PARAMETER,
            header_parameter("If-None-Match", "ETag déjà connu du carnet (réponse 304)."),
        ]
    },
)
async def read(request: Request) -> Response:
    headers = request.headers
    carnet_id = path_carnet_id(request)
    claims = bearer_claims(request)
    body, version, _ = await _readable_view(request, claims, carnet_id, headers.get(PURPOSE_HEADER))
    if_none_match = headers.get("if-none-match")
    tag = etag(version)
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})


@router.post(
    "",
    summary="Créer ou retrouver le carnet d'une personne, et y verser ce qu'on sait d'elle",
    response_model=wire.ResultatEcriture,
    status_code=201,
    responses={
        200: {
            "description": (
                "Carnet existant retrouvé : dans votre besoin d'en connaître, le résultat de "
                "l'écriture ; hors de lui, sa découverte (qu'il existe, son identifiant, son "
                "groupe de suivi) — rien n'est appliqué."
            ),
            "model": wire.ResultatEcriture | Decouverte,
        },
        **_WRITE_RESPONSES,
        429: {"description": "Trop d'identifications infructueuses (Retry-After)."},
    },
    openapi_extra={
        "requestBody": _BODY_DOC
        | {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/CarnetEntrant"}}
            }
        }
    },
)
def create_or_find(
    request: Request,
    body: Annotated[bytes, wire.RAW_BODY],
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
) -> Response:
    guard.require("ecriture", "identification")
    representation = _wants_representation(prefer, default=True)

    def operation(session: Any) -> Response:
        service = notebook_service(request, session, validator, guard)
        result = service.create_or_find(body, with_view=representation)
        if not result.visible:
            return _discovery(session, guard, result.row.id)
        status = 201 if result.created else 200
        return _write_response(
            result,
            guard,
            validator,
            status=status,
            location=True,
            representation=representation,
        )

    return run_write(
        database,
        request,
        body,
        guard.principal.client_id,
        operation,
        **_write(guard, validator, None),
    )


@lean_route(
    hot_router,
    "/{carnet_id}/contributions",
    methods=["POST"],
    summary="Verser une contribution (un ou plusieurs volets) au carnet",
    response_model=wire.ResultatEcriture,
    responses=_WRITE_RESPONSES | {404: {"description": "Carnet introuvable."}},
    openapi_extra={
        "parameters": [
            CARNET_ID_PARAMETER,
            PURPOSE_PARAMETER,
            AGENT_PARAMETER,
            header_parameter(*IDEMPOTENCY_KEY_DOC),
            header_parameter(*IF_MATCH_DOC),
            header_parameter(*PREFER_DOC),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ContributionEntrante"}
                }
            },
        },
    },
)
async def contribute(request: Request) -> Response:
    carnet_id = path_carnet_id(request)
    headers = request.headers
    principal = await get_principal(request)
    agent, habilitations = agent_of(request, principal)
    guard = Guard(
        gateway_of(request).matrix,
        principal,
        headers.get(PURPOSE_HEADER),
        agent=agent,
        agent_habilitations=habilitations,
    )
    guard.require("ecriture")
    expected = parse_if_match(headers.get("if-match"))
    representation = _wants_representation(headers.get("prefer"), default=False)
    body = await request.body()
    validator: Validator = gateway_of(request).validator

    def operation(session: Any) -> Response:
        service = notebook_service(request, session, validator, guard)
        result = service.contribute(carnet_id, body, expected, with_view=representation)
        return _write_response(result, guard, validator, status=200, representation=representation)

    return await run_write_async(
        gateway_of(request).database,
        request,
        body,
        guard.principal.client_id,
        operation,
        **_write(guard, validator, carnet_id),
    )


async def _readable_view(
    request: Request, claims: dict[str, Any], carnet_id: str, purpose: str | None
) -> tuple[bytes, int, Guard]:
    """The notebook as the caller may read it, its version and the caller's rights.

    The hottest path: the client's state, its organisation, its link with the notebook and the
    notebook's version come in one query, the view from memory when this version's is held
    (one more query otherwise); the read is journaled before it is answered (a journal that
    cannot be written fails the read).
    """
    gateway = gateway_of(request)
    database: Database = gateway.database
    client_id = str(claims["client_id"])
    agent = agent_header(request)
    by_sub = agent is None and AGENT_SUB in claims
    if by_sub:
        # An external identity provider's token: its sub names the agent, if registered.
        agent = agents.id_by_sub(database, str(claims[AGENT_SUB]))
    found = repository.view_for_client(database, carnet_id, client_id, agent)
    if found is None:
        raise Unauthenticated(
            headers={"WWW-Authenticate": 'Bearer realm="carnet", error="invalid_token"'}
        )
    version, territoire, organisation_id, type_acteur, territoires = found[:5]
    derogations, linked, operateur, habilitations, referent, referent_structure = found[5:]
    rights = client_rights(organisation_id, type_acteur, territoires, derogations, operateur)
    principal = token_principal(request, claims, rights)
    if agent is not None and habilitations is None:
        if not by_sub:
            raise UnknownAgent()
        agent = None  # registered by another organisation: acts without an agent
    guard = Guard(
        gateway.matrix,
        principal,
        purpose,
        agent=agent,
        agent_habilitations=frozenset(json_list(habilitations)) if agent else frozenset(),
    )
    guard.require("lecture")
    journal: AccessJournal = gateway.journal
    cache: ProjectionCache = gateway.projections
    stored = None
    if version is not None and guard.may_touch(territoire, bool(linked)):
        stored = repository.cached_view(database, cache, carnet_id, version)
    if stored is None:
        await journal.record(guard.entry("lecture", carnet_id, [], "hors_besoin"))
        raise NotebookNotFound()
    version, held, vue = stored
    readable, withheld = guard.served(bool(referent), bool(referent_structure))
    body, categories = served(
        vue,
        held,
        readable,
        withheld,
        gateway.validator,
        cache=cache,
        key=(carnet_id, version),
        own=guard.own,
    )
    await journal.record(guard.entry("lecture", carnet_id, categories, "servi"))
    return body, version, guard


AgentHeader = Annotated[str | None, Header(alias=AGENT_HEADER, description=AGENT_DOC)]
Purpose = Annotated[
    str | None,
    Header(alias=PURPOSE_HEADER, description="Finalité de l'accès, par exemple accompagnement."),
]


@router.get(
    "/{carnet_id}/journal",
    summary="Les accès de votre organisation au carnet (qui, quand, pourquoi, quelles catégories)",
    response_model=wire.Journal,
    responses={**PURPOSE_RESPONSES, 404: {"description": "Carnet introuvable."}},
)
def access_journal(
    carnet_id: CarnetId,
    database: DatabaseDep,
    guard: GuardDep,
    params: Annotated[Any, Depends(pagination.params_of(wire.Journal))],
) -> Any:
    """The caller's own organisation's accesses to a notebook within its need to know: the
    journal is for the data protection officer and the person, never a window on other
    organisations' activity (operators read theirs at /v1/journal)."""
    guard.require("lecture")
    # The data protection officer (an operator client of the notebook's reach) reads every
    # organisation's entries; any other caller, its own organisation's.
    dpo = ADMINISTRATION in guard.principal.scopes and is_dpo(database, guard.principal.client_id)
    with database.read() as session:
        territoire = repository.territory_of(session, carnet_id)
        linked = repository.linked(session, carnet_id, guard.principal.organisation_id)
        allowed = territoire is not None and guard.may_touch(territoire, linked)
        entries = (
            repository.journal_of(
                session,
                carnet_id=carnet_id,
                organisation_id=None if dpo else guard.principal.organisation_id,
                after=pagination.number(params),
                limit=pagination.size(params) + 1,
            )
            if allowed
            else []
        )
    with database.write() as session:
        outcome = "servi" if allowed else "hors_besoin"
        repository.record_access(session, guard.entry("journal", carnet_id, [], outcome))
    if not allowed:
        raise NotebookNotFound()
    # Its own entries name the free text it was served (its own, or as referent structure).
    readable = None if dpo else guard.readable | {FREE_TEXT}
    return journal_page(wire.Journal, params, entries, readable)


@router.get(
    "/{carnet_id}/{section}",
    summary="Lire un volet du carnet consolidé",
    responses={**PURPOSE_RESPONSES, 404: {"description": "Carnet introuvable."}},
)
async def read_section(
    request: Request,
    carnet_id: CarnetId,
    section: Section,
    claims: ClaimsDep,
    finalite: Purpose = None,
    agent: AgentHeader = None,
) -> Response:
    # ``agent`` documents the header; _readable_view reads and checks it.
    text, version, _ = await _readable_view(request, claims, carnet_id, finalite)
    view = orjson.loads(text)
    body = {"id": carnet_id, "version": version, section: view.get(section)}
    body["masques"] = view["masques"]
    return OrjsonResponse(body, headers={"ETag": etag(version)})


@router.patch(
    "/{carnet_id}/{section}",
    summary="Verser un seul volet (même fusion qu'une contribution)",
    response_model=wire.ResultatEcriture,
    responses=_WRITE_RESPONSES | {404: {"description": "Carnet introuvable."}},
    openapi_extra={"requestBody": _BODY_DOC},
)
def write_section(
    request: Request,
    carnet_id: CarnetId,
    section: Section,
    body: Annotated[bytes, wire.RAW_BODY],
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
    observe_le: Annotated[
        datetime | None, Query(description="Date d'observation (par défaut : maintenant).")
    ] = None,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
    prefer: Prefer = None,
) -> Response:
    guard.require("ecriture")
    expected = parse_if_match(if_match)
    representation = _wants_representation(prefer, default=False)
    wrapped = wire.wrap_section(section, body, observe_le)

    def operation(session: Any) -> Response:
        service = notebook_service(request, session, validator, guard)
        try:
            result = service.contribute(carnet_id, wrapped, expected, with_view=representation)
        except ProblemError as error:
            wire.unwrap_pointers(error, section)
            raise
        return _write_response(result, guard, validator, status=200, representation=representation)

    return run_write(
        database,
        request,
        body,
        guard.principal.client_id,
        operation,
        **_write(guard, validator, carnet_id),
    )
