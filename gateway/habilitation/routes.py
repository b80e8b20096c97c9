"""The published habilitation matrix."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.container import gateway_of
from gateway.deps import PrincipalDep
from gateway.habilitation.matrix import Matrix
from gateway.responses import OrjsonResponse

router = APIRouter(tags=["habilitations"])


@router.get(
    "/v1/habilitations",
    summary="La matrice d'habilitation : type d'acteur × catégorie de données → droits",
)
def get_habilitations(request: Request) -> OrjsonResponse:
    """Rights per actor kind and data category (lecture, ecriture, export, identification), the
    pointers some writes are limited to, the scope of the need to know (territoire, relation)
    and the purposes each actor kind may state in the ``Finalite`` header."""
    matrix: Matrix = gateway_of(request).matrix
    return OrjsonResponse(matrix.to_wire())


@router.get(
    "/v1/habilitations/organisation",
    summary="Vos droits : ceux de votre type d'acteur, avec les dérogations de votre organisation",
    responses={401: {"description": "Jeton absent ou invalide."}},
)
def get_own_rights(request: Request, principal: PrincipalDep) -> OrjsonResponse:
    matrix: Matrix = gateway_of(request).matrix
    actor = matrix.actor(principal.type_acteur, principal.derogations)
    return OrjsonResponse(
        {
            "organisation": principal.organisation_id,
            "type_acteur": principal.type_acteur,
            "portee": actor.portee,
            "finalites": list(actor.finalites),
            "droits": {c: sorted(r) for c, r in actor.droits.items() if r},
            "limites": {c: list(p) for c, p in actor.limites.items()},
            "derogations": [
                {"categorie": c, "droit": d, "effet": e} for c, d, e in principal.derogations
            ],
            "masques": matrix.withheld(principal.type_acteur, principal.derogations),
        }
    )
