"""The notebook API: create-or-find, contributions, reads and search."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from fastapi_pagination.cursor import CursorPage
from fastapi_pagination.customization import CustomizedPage, UseIncludeTotal, UseParamsFields
from fastapi_pagination.ext.sqlmodel import paginate

from gateway.auth.principal import Principal
from gateway.deps import (
    ClaimsDep,
    DatabaseDep,
    PrincipalDep,
    Unauthenticated,
    ValidatorDep,
    json_list,
)
from gateway.errors import ProblemError
from gateway.idempotency import run_write
from gateway.notebooks import repository, wire
from gateway.notebooks.errors import NotebookNotFound
from gateway.notebooks.service import NotebookService, WriteResult, etag, parse_if_match
from gateway.responses import OrjsonResponse
from gateway.storage.database import Database
from referential import Validator
from referential.models import Section

router = APIRouter(prefix="/v1/carnets", tags=["carnets"])

#: Cursor pages without a COUNT per page.
Page = CustomizedPage[
    CursorPage[wire.ResumeCarnet],
    UseIncludeTotal(False),
    UseParamsFields(size=Query(50, ge=1, le=100, description="Taille de la page.")),
]

CarnetId = Annotated[str, Path(description="Identifiant du carnet.", max_length=36)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Rejouer la même requête rend la même réponse."),
]
Prefer = Annotated[
    str | None,
    Header(
        description=(
            "RFC 7240 : « return=representation » ajoute le carnet consolidé à la réponse d'une "
            "contribution ; « return=minimal » l'enlève de celle d'une création."
        )
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="ETag attendu du carnet (écriture conditionnelle)."),
]

_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton absent ou invalide."},
    403: {"description": "Territoire hors de ceux de l'organisation."},
    409: {"description": "Identité ambiguë ou conflictuelle."},
    412: {"description": "Version périmée (If-Match)."},
    413: {"description": "Corps trop volumineux."},
    422: {"description": "Contenu invalide : erreurs localisées par pointeur JSON."},
}
_BODY_DOC = {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}


def _service(
    request: Request, session: Any, validator: Validator, principal: Principal
) -> NotebookService:
    database: Database = request.app.state.database
    return NotebookService(
        session,
        validator,
        principal,
        lock=database.lock,
        states=request.app.state.states,
        on_commit=database.on_commit,
    )


def _write_response(
    result: WriteResult, *, status: int, location: bool = False, representation: bool = True
) -> Response:
    headers = {"ETag": etag(result.row.version)}
    if location:
        headers["Location"] = f"/v1/carnets/{result.row.id}"
    if not representation:
        headers["Preference-Applied"] = "return=minimal"
    body = result.body(with_notebook=representation)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _wants_representation(prefer: str | None, default: bool) -> bool:
    """RFC 7240 ``Prefer: return=representation`` or ``return=minimal``."""
    if prefer:
        tokens = {token.strip().lower() for token in prefer.split(",")}
        if "return=representation" in tokens:
            return True
        if "return=minimal" in tokens:
            return False
    return default


@router.post(
    "",
    summary="Créer ou retrouver le carnet d'une personne, et y verser ce qu'on sait d'elle",
    response_model=wire.ResultatEcriture,
    status_code=201,
    responses={
        200: {"description": "Carnet existant retrouvé.", "model": wire.ResultatEcriture},
        **_WRITE_RESPONSES,
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
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
) -> Response:
    representation = _wants_representation(prefer, default=True)

    def operation(session: Any) -> Response:
        service = _service(request, session, validator, principal)
        result = service.create_or_find(body, with_view=representation)
        status = 201 if result.created else 200
        return _write_response(result, status=status, location=True, representation=representation)

    return run_write(database, request, body, principal.client_id, operation)


@router.post(
    "/{carnet_id}/contributions",
    summary="Verser une contribution (un ou plusieurs volets) au carnet",
    response_model=wire.ResultatEcriture,
    responses=_WRITE_RESPONSES | {404: {"description": "Carnet introuvable."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ContributionEntrante"}
                }
            },
        }
    },
)
def contribute(
    request: Request,
    carnet_id: CarnetId,
    body: Annotated[bytes, wire.RAW_BODY],
    database: DatabaseDep,
    validator: ValidatorDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
    prefer: Prefer = None,
) -> Response:
    expected = parse_if_match(if_match)
    representation = _wants_representation(prefer, default=False)

    def operation(session: Any) -> Response:
        service = _service(request, session, validator, principal)
        result = service.contribute(carnet_id, body, expected, with_view=representation)
        return _write_response(result, status=200, representation=representation)

    return run_write(database, request, body, principal.client_id, operation)


@router.get(
    "",
    summary="Rechercher des carnets (NIR et date de naissance, identifiant partenaire, territoire, date de modification)",
    response_model=Page,
)
def search(
    database: DatabaseDep,
    principal: PrincipalDep,
    params: Annotated[Page.__params_type__, Depends()],  # type: ignore[name-defined]
    nir: Annotated[
        str | None, Query(description="NIR (13 ou 15 caractères) ; avec date_naissance.")
    ] = None,
    date_naissance: Annotated[date | None, Query()] = None,
    identifiant: Annotated[
        str | None,
        Query(
            description=(
                "Identifiant partenaire « type:valeur » : caf_msa:caf:999:999000000001234, "
                "france_travail:XYZ, si_departement:26:SI-123."
            )
        ),
    ] = None,
    territoire: Annotated[str | None, Query(max_length=3)] = None,
    modifie_depuis: Annotated[
        datetime | None,
        Query(description="Horodatage ISO 8601 ; sans fuseau, il est lu en UTC."),
    ] = None,
) -> Any:
    if modifie_depuis is not None and modifie_depuis.tzinfo is None:
        modifie_depuis = modifie_depuis.replace(tzinfo=UTC)
    nir13 = wire.search_nir(nir, date_naissance)
    carnet_ids = None
    if identifiant is not None:
        carnet_ids = _ids_by_identifier(database, identifiant)
    statement = repository.search_statement(
        principal.territoires,
        nir13=nir13,
        date_naissance=date_naissance,
        carnet_ids=carnet_ids,
        territoire=territoire,
        modifie_depuis=modifie_depuis,
    )
    with database.read() as session:
        return paginate(session, statement, params, transformer=_summaries)


def _ids_by_identifier(database: DatabaseDep, identifiant: str) -> set[str]:
    kind, _, value = identifiant.partition(":")
    if kind not in ("caf_msa", "france_travail", "si_departement") or not value:
        raise ProblemError(
            errors=[
                {
                    "parameter": "identifiant",
                    "code": "identifiant_invalide",
                    "message": "Identifiant attendu sous la forme type:valeur.",
                }
            ]
        )
    with database.read() as session:
        return repository.ids_by_identifiers(session, {kind: value})


def _summaries(rows: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": row.id,
            "version": row.version,
            "territoire": row.territoire,
            "modifie_le": row.modifie_le.isoformat().replace("+00:00", "Z"),
        }
        for row in rows
    ]


def _stored_view(request: Request, claims: dict[str, Any], carnet_id: str) -> tuple[str, int]:
    """The stored view and version of a notebook of the caller's territories.

    The hottest path: the client's state and the notebook come in one query.
    """
    database: Database = request.app.state.database
    parameters = {"carnet_id": carnet_id, "client_id": str(claims["client_id"])}
    found = database.fetch_one(repository.VIEW_FOR_CLIENT, parameters)
    if found is None:
        raise Unauthenticated(
            headers={"WWW-Authenticate": 'Bearer realm="carnet", error="invalid_token"'}
        )
    view, version, territoire, territoires = found
    if view is None or territoire not in json_list(territoires):
        raise NotebookNotFound()
    return view, version


@router.get(
    "/{carnet_id}",
    summary="Lire le carnet consolidé",
    response_model=wire.CarnetVue,
    responses={
        304: {"description": "Inchangé (If-None-Match)."},
        404: {"description": "Carnet introuvable."},
    },
)
async def read(
    request: Request,
    carnet_id: CarnetId,
    claims: ClaimsDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    view, version = _stored_view(request, claims, carnet_id)
    tag = etag(version)
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(view.encode(), media_type="application/json", headers={"ETag": tag})


@router.get(
    "/{carnet_id}/{section}",
    summary="Lire un volet du carnet consolidé",
    responses={404: {"description": "Carnet introuvable."}},
)
async def read_section(
    request: Request, carnet_id: CarnetId, section: Section, claims: ClaimsDep
) -> Response:
    text, version = _stored_view(request, claims, carnet_id)
    view = orjson.loads(text)
    body = {"id": carnet_id, "version": version, section: view.get(section)}
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
    principal: PrincipalDep,
    observe_le: Annotated[
        datetime | None, Query(description="Date d'observation (par défaut : maintenant).")
    ] = None,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
    prefer: Prefer = None,
) -> Response:
    expected = parse_if_match(if_match)
    representation = _wants_representation(prefer, default=False)
    wrapped = wire.wrap_section(section, body, observe_le)

    def operation(session: Any) -> Response:
        service = _service(request, session, validator, principal)
        try:
            result = service.contribute(carnet_id, wrapped, expected, with_view=representation)
        except ProblemError as error:
            wire.unwrap_pointers(error, section)
            raise
        return _write_response(result, status=200, representation=representation)

    return run_write(database, request, body, principal.client_id, operation)
