"""The published habilitation matrix."""

from __future__ import annotations

from fastapi import APIRouter, Request

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
    matrix: Matrix = request.app.state.matrix
    return OrjsonResponse(matrix.to_wire())
