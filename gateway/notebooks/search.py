"""``GET /v1/carnets`` and ``POST /v1/carnets/recherche``: the notebooks within the caller's
need to know, by territory and modification time, or by NIR and birth date or a partner
identifier (identifying criteria travel in a body, never in a URL); an identity outside the
need to know only discovers a notebook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi_pagination.ext.sqlmodel import paginate
from sqlakeyset import InvalidPage

from gateway import pagination
from gateway.container import gateway_of
from gateway.deps import (
    DatabaseDep,
    GuardDep,
)
from gateway.errors import ProblemError
from gateway.habilitation.guard import Guard
from gateway.habilitation.journal import LISTED
from gateway.habilitation.matrix import SANDBOX
from gateway.notebooks import wire
from gateway.notebooks.errors import NirNotAllowed
from gateway.notebooks.routes import PURPOSE_RESPONSES
from gateway.notebooks.throttle import Throttle
from gateway.storage import notebooks as repository
from gateway.storage.database import Database

router = APIRouter(prefix="/v1/carnets", tags=["carnets"])

#: The notebooks a search finds, by modification time then id (see gateway/pagination.py).
Page = pagination.page_of(
    wire.ResumeCarnet,
    name="Carnets",
    description="Les carnets trouvés, du moins au plus récemment modifié.",
    maximum=100,
)


Territoire = Annotated[str | None, Query(max_length=3)]
ModifieDepuis = Annotated[
    datetime | None, Query(description="Horodatage ISO 8601 ; sans fuseau, il est lu en UTC.")
]


@router.get(
    "",
    summary="Lister les carnets (territoire, date de modification) ; par NIR ou identifiant : POST /v1/carnets/recherche",
    response_model=Page,
    responses=PURPOSE_RESPONSES,
)
def search(
    request: Request,
    database: DatabaseDep,
    guard: GuardDep,
    params: Annotated[Any, Depends(pagination.params_of(Page))],
    territoire: Territoire = None,
    modifie_depuis: ModifieDepuis = None,
) -> Any:
    guard.require("lecture", "identification")
    identifying = sorted({"nir", "identifiant", "date_naissance"} & set(request.query_params))
    if identifying:
        raise ProblemError(
            "Le NIR, la date de naissance et les identifiants ne passent pas dans l'URL, que les "
            "serveurs et les proxys journalisent : POST /v1/carnets/recherche.",
            errors=[
                {
                    "parameter": name,
                    "code": "critere_dans_l_url",
                    "message": "Critère à envoyer dans le corps.",
                }
                for name in identifying
            ],
        )
    return _search(request, database, guard, params, wire.Recherche(), territoire, modifie_depuis)


@router.post(
    "/recherche",
    summary="Rechercher des carnets par NIR et date de naissance, ou par identifiant partenaire",
    response_model=Page,
    responses={**PURPOSE_RESPONSES, 422: {"description": "Corps invalide."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": wire.Recherche.model_json_schema()}},
        }
    },
)
def search_by_identity(
    request: Request,
    database: DatabaseDep,
    guard: GuardDep,
    body: Annotated[bytes, wire.RAW_BODY],
    params: Annotated[Any, Depends(pagination.params_of(Page))],
    territoire: Territoire = None,
    modifie_depuis: ModifieDepuis = None,
) -> Any:
    guard.require("lecture", "identification")
    criteres = wire.search_criteria(body)
    if criteres.nir is not None and not guard.actor.nir:
        raise NirNotAllowed(
            errors=[
                {
                    "pointer": "/nir",
                    "code": "nir_non_autorise",
                    "message": "Votre type d'acteur ne peut pas rechercher de NIR.",
                }
            ]
        )
    return _search(request, database, guard, params, criteres, territoire, modifie_depuis)


def _search(
    request: Request,
    database: Database,
    guard: Guard,
    params: Any,
    criteres: wire.Recherche,
    territoire: str | None,
    modifie_depuis: datetime | None,
) -> Any:
    if modifie_depuis is not None and modifie_depuis.tzinfo is None:
        modifie_depuis = modifie_depuis.replace(tzinfo=UTC)
    nir13 = wire.search_nir(criteres.nir, criteres.date_naissance)
    # Need to know, inside the query: the territories, and the links for the actor kinds that
    # only see the notebooks they accompany.
    territoires = guard.principal.territoires if guard.actor.portee != "aucune" else ()
    if guard.actor.portee == "bac_a_sable":
        territoires = tuple(t for t in territoires if t == SANDBOX)
    linked_to = guard.principal.organisation_id if guard.actor.portee == "relation" else None
    carnet_ids = None
    if criteres.identifiant is not None:
        carnet_ids = _ids_by_identifier(
            database, criteres.identifiant, sandbox=guard.actor.portee == "bac_a_sable"
        )
    identifying = nir13 is not None or carnet_ids is not None
    throttle = Throttle.of(gateway_of(request).settings)
    if identifying:
        with database.read() as session:
            throttle.check(session, guard)
    criteria: dict[str, Any] = {
        "nir13": nir13,
        "date_naissance": criteres.date_naissance,
        "carnet_ids": carnet_ids,
        "territoire": territoire,
        "modifie_depuis": modifie_depuis,
    }
    statement = repository.search_statement(territoires, linked_to=linked_to, **criteria)
    with database.read() as session:
        try:
            page = paginate(session, statement, params, transformer=_summaries)
        except InvalidPage:
            raise pagination.invalid_cursor() from None
        discovered = None
        if identifying and linked_to is not None and not page.items and not params.cursor:
            # Outside the need to know, an identity designating a notebook of the caller's
            # territories discovers it: its id and territory, nothing else (as POST /v1/carnets).
            discovered = repository.first_found(
                session, repository.search_statement(territoires, **criteria)
            )
    if discovered is not None:
        page.items = [
            wire.ResumeCarnet(
                id=discovered.id, territoire=discovered.territoire, acces="decouverte"
            )
        ]
    with database.write() as session:
        outcome = "decouverte" if discovered is not None else "servi"
        repository.record_access(session, guard.entry("recherche", None, ["identite"], outcome))
        # Which notebooks the search named, one entry each (the person's journal shows it).
        named = [item["id"] if isinstance(item, dict) else item.id for item in page.items]
        repository.record_accesses(
            session, [guard.entry("recherche", carnet_id, [], LISTED) for carnet_id in named]
        )
        if identifying and not page.items:
            throttle.failure(guard)(session)
    return page


def _ids_by_identifier(database: Database, identifiant: str, *, sandbox: bool) -> set[str]:
    """The notebooks holding a partner identifier (``type:valeur``); a software publisher's
    are in the sandbox's own namespace."""
    kind, _, value = identifiant.partition(":")
    if kind not in ("caf_msa", "france_travail", "si_departement") or not value:
        raise ProblemError(
            errors=[
                {
                    "pointer": "/identifiant",
                    "code": "identifiant_invalide",
                    "message": "Identifiant attendu sous la forme type:valeur.",
                }
            ]
        )
    if sandbox:
        value = f"{SANDBOX}:{value}"
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
