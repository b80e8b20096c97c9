"""The follow-up group of a notebook and the requests to join it.

- ``GET /v1/carnets/{id}/groupe-de-suivi``: the members (with ``historique=true``, the
  ended ones too), for a caller with the need to know the notebook.
- ``POST /v1/carnets/{id}/groupe-de-suivi``: the département designates a member or the
  referent structure; ``DELETE …/groupe-de-suivi/{membre}``: it ends a membership, or a
  member leaves.
- ``POST /v1/carnets/{id}/rattachements``: a partner that discovered the notebook asks to
  join; ``GET`` lists the requests (all of them for who decides, its own for a requester);
  ``POST …/rattachements/{demande}/decision``: the referent structure or the département
  accepts or refuses.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from gateway.container import gateway_of
from gateway.deps import DatabaseDep, GuardDep, ValidatorDep
from gateway.errors import ProblemError
from gateway.followup import wire
from gateway.followup.service import FollowUpService
from gateway.habilitation.guard import Guard
from gateway.idempotency import run_write
from gateway.notebooks.routes import (
    IDEMPOTENCY_KEY_DOC,
    CarnetId,
    IdempotencyKey,
    notebook_service,
)
from gateway.notebooks.wire import RAW_BODY
from gateway.storage import Session
from gateway.storage import followup as repository
from referential import Validator

router = APIRouter(prefix="/v1/carnets", tags=["groupe de suivi"])
M = TypeVar("M", bound=BaseModel)

MemberId = Annotated[str, Path(description="Identifiant de l'appartenance.", max_length=36)]
RequestId = Annotated[str, Path(description="Identifiant de la demande.", max_length=36)]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Finalité absente."},
    401: {"description": "Jeton absent ou invalide."},
    403: {"description": "Finalité ou opération non autorisée à votre organisation."},
    404: {"description": "Carnet introuvable (ou hors de votre besoin d'en connaître)."},
}
_WRITE_RESPONSES = _RESPONSES | {
    409: {"description": "Déjà fait, ou déjà décidé (une seule décision l'emporte)."},
    422: {"description": "Corps invalide : erreurs localisées par pointeur JSON."},
}
_IDEMPOTENCY = {"description": IDEMPOTENCY_KEY_DOC[1]}


class InvalidBody(ProblemError):
    status = 422
    code = "corps_invalide"
    title = "Corps de requête invalide."


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route reading its JSON body itself (see :func:`_parsed`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _parsed(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as error:
        raise InvalidBody(
            errors=[
                {
                    "pointer": "/" + "/".join(str(part) for part in e["loc"]),
                    "code": "valeur_invalide",
                    "message": f"Valeur invalide ({e['type']}).",
                }
                for e in error.errors(include_url=False, include_input=False)
            ]
        ) from None


def _service(
    request: Request, session: Session, validator: Validator, guard: Guard
) -> FollowUpService:
    return FollowUpService(
        session,
        guard,
        notebook_service(request, session, validator, guard),
        automatic=gateway_of(request).settings.rattachement_automatique,
    )


def _json(model: Any, status: int = 200) -> Response:
    return Response(
        model.model_dump_json().encode(), status_code=status, media_type="application/json"
    )


@router.get(
    "/{carnet_id}/groupe-de-suivi",
    summary="Le groupe de suivi du carnet : structures membres, référente, depuis quand et pourquoi",
    response_model=wire.GroupeSuivi,
    responses=_RESPONSES,
)
def group(
    request: Request,
    carnet_id: CarnetId,
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
    historique: Annotated[bool, Query(description="Inclure les appartenances terminées.")] = False,
) -> Any:
    guard.require("lecture")

    def operation(session: Session) -> Response:
        members = _service(request, session, validator, guard).group(carnet_id, history=historique)
        return _json(
            wire.GroupeSuivi(carnet_id=carnet_id, membres=[wire.member(m) for m in members])
        )

    return run_write(database, request, b"", guard.principal.client_id, operation, idempotent=False)


@router.post(
    "/{carnet_id}/groupe-de-suivi",
    summary="Désigner un membre du groupe de suivi ou la structure référente (le département)",
    response_model=wire.Membre,
    status_code=201,
    responses=_WRITE_RESPONSES | {200: {"description": "Déjà membre avec ce rôle."}},
    openapi_extra=_json_body(wire.NouveauMembre),
)
def designate(
    request: Request,
    carnet_id: CarnetId,
    body: Annotated[bytes, RAW_BODY],
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    guard.require("ecriture")
    wanted = _parsed(wire.NouveauMembre, body)

    def operation(session: Session) -> Response:
        designation = _service(request, session, validator, guard).designate(
            carnet_id, wanted.organisation_id, wanted.role, wanted.agent_id
        )
        shown = _shown(session, carnet_id, designation.member.id)
        return _json(shown, 201 if designation.created else 200)

    return run_write(database, request, body, guard.principal.client_id, operation)


@router.delete(
    "/{carnet_id}/groupe-de-suivi/{membre_id}",
    summary="Mettre fin à une appartenance (le département, ou le membre qui se retire)",
    response_model=wire.Membre,
    responses=_WRITE_RESPONSES,
)
def end(
    request: Request,
    carnet_id: CarnetId,
    membre_id: MemberId,
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
) -> Response:
    guard.require("ecriture")

    def operation(session: Session) -> Response:
        member = _service(request, session, validator, guard).end(carnet_id, membre_id)
        return _json(_shown(session, carnet_id, member.id))

    return run_write(database, request, b"", guard.principal.client_id, operation)


def _shown(session: Session, carnet_id: str, member_id: str) -> wire.Membre:
    for found in repository.members(session, carnet_id, current_only=False):
        if found.row.id == member_id:
            return wire.member(found)
    raise AssertionError(member_id)


@router.post(
    "/{carnet_id}/rattachements",
    summary="Demander à rejoindre le groupe de suivi d'un carnet découvert par identification",
    response_model=wire.Demande,
    status_code=201,
    responses=_WRITE_RESPONSES,
    openapi_extra=_json_body(wire.NouvelleDemande),
)
def request_join(
    request: Request,
    carnet_id: CarnetId,
    body: Annotated[bytes, RAW_BODY],
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    guard.require("identification", "lecture")
    wanted = _parsed(wire.NouvelleDemande, body)

    def operation(session: Session) -> Response:
        found = _service(request, session, validator, guard).request_join(carnet_id, wanted.motif)
        return _json(wire.request(found), 201)

    return run_write(database, request, body, guard.principal.client_id, operation)


@router.get(
    "/{carnet_id}/rattachements",
    summary="Les demandes de rattachement (toutes pour qui décide, les siennes pour un demandeur)",
    response_model=wire.Demandes,
    responses=_RESPONSES,
)
def requests(
    request: Request,
    carnet_id: CarnetId,
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
) -> Any:
    guard.require("identification", "lecture")

    def operation(session: Session) -> Response:
        found = _service(request, session, validator, guard).requests(carnet_id)
        return _json(wire.Demandes(carnet_id=carnet_id, demandes=[wire.request(r) for r in found]))

    return run_write(database, request, b"", guard.principal.client_id, operation, idempotent=False)


@router.post(
    "/{carnet_id}/rattachements/{demande_id}/decision",
    summary="Accepter ou refuser une demande de rattachement (structure référente ou département)",
    response_model=wire.Demande,
    responses=_WRITE_RESPONSES,
    openapi_extra=_json_body(wire.Decision),
)
def decide(
    request: Request,
    carnet_id: CarnetId,
    demande_id: RequestId,
    body: Annotated[bytes, RAW_BODY],
    database: DatabaseDep,
    validator: ValidatorDep,
    guard: GuardDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    guard.require("ecriture")
    wanted = _parsed(wire.Decision, body)

    def operation(session: Session) -> Response:
        found = _service(request, session, validator, guard).decide(
            carnet_id, demande_id, wanted.decision == "accepte", wanted.motif
        )
        return _json(wire.request(found))

    return run_write(database, request, body, guard.principal.client_id, operation)
