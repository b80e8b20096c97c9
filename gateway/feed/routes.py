"""``GET /v1/changements``: the change feed, in commit order, without gaps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway import pagination
from gateway.deps import DatabaseDep, GuardDep
from gateway.errors import ProblemError
from gateway.habilitation.journal import LISTED
from gateway.pagination import page_of
from gateway.storage import feed as repository
from gateway.storage import notebooks
from gateway.storage.feed import Visibility
from referential import OutgoingBody

router = APIRouter(prefix="/v1/changements", tags=["changements"])


class CursorExpired(ProblemError):
    status = 410
    code = "curseur_expire"
    title = "Ce curseur a expiré : les changements qui le suivaient ne sont plus conservés."


class Changement(BaseModel):
    """Un changement d'un carnet : lequel, sa nouvelle version, les volets modifiés, quand (les
    données se lisent dans le carnet, sous l'habilitation du lecteur)."""

    carnet_id: str = Field(description="Identifiant du carnet dans la passerelle.")
    version: int = Field(ge=1, description="Version du carnet après ce changement.")
    sections: list[str] = Field(description="Les volets du carnet que ce changement a modifiés.")
    horodatage: datetime = Field(description="Instant du changement (UTC).")


Changements = page_of(
    Changement,
    name="Changements",
    description="Les changements, dans l'ordre où ils ont eu lieu.",
    default=100,
    maximum=1000,
    fin=(
        bool,
        Field(
            description=(
                "Vrai quand la page atteint le dernier changement enregistré à cet instant ; "
                "« suivant » est alors l'endroit où reprendre plus tard."
            )
        ),
    ),
)


CHANGEMENT = OutgoingBody(
    "changement",
    Changement,
    description="Un élément du flux des changements (GET /v1/changements).",
    mode="serialization",
)
CHANGEMENTS = OutgoingBody(
    "changements",
    Changements,
    description="Une page du flux des changements (GET /v1/changements).",
    mode="serialization",
)


@router.get(
    "",
    summary="Les changements des carnets que vous pouvez voir, dans l'ordre où ils ont eu lieu",
    response_model=Changements,
    responses={
        400: {"description": "Finalité absente ou curseur invalide."},
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Finalité non autorisée ou jeton sans droit de lecture."},
        410: {"description": "Curseur expiré (au-delà de la durée de conservation)."},
    },
)
def changes(
    database: DatabaseDep,
    guard: GuardDep,
    params: Annotated[Any, Depends(pagination.params_of(Changements))],
) -> Any:
    """Each change gives the notebook, its new version, the sections it modified and when; the
    data itself is read from the notebook (habilitation and journal apply there). Only the
    notebooks within the caller's need to know are listed, and a change that touched only
    categories its actor kind may not read is left out. The list pages as every list does
    (``apres``, ``limite``; ``elements``, ``suivant``), without gaps: ``suivant`` is always given,
    where to resume once more changes happened, and stays valid for the retention of the change
    log (``CARNET_CHANGEMENTS_RETENTION_JOURS``, 30 days by default); an expired one answers
    410."""
    guard.require("lecture")
    depuis = pagination.position(params)
    after = repository.START if depuis is None else repository.parse_cursor(depuis)
    if after is None:
        raise pagination.invalid_cursor()
    principal = guard.principal
    visibility = Visibility(
        territoires=principal.territoires,
        portee=guard.actor.portee,
        organisation_id=principal.organisation_id,
        categories=guard.readable,
    )
    with database.read() as session:
        if depuis is not None and after < repository.horizon(session):
            raise CursorExpired()
        entries, position, end = repository.page(
            session, visibility, after, pagination.size(params)
        )
    with database.write() as session:
        entry = guard.entry("changements", None, sorted(guard.readable), "servi")
        notebooks.record_access(session, entry)
        # Which notebooks the page named, one entry each (the person's journal shows it).
        named = sorted({e.carnet_id for e in entries})
        notebooks.record_accesses(
            session, [guard.entry("changements", carnet_id, [], LISTED) for carnet_id in named]
        )
    elements = [
        Changement(
            carnet_id=e.carnet_id,
            version=e.version,
            sections=e.sections,
            horodatage=e.horodatage.astimezone(UTC),
        )
        for e in entries
    ]
    return pagination.page(
        Changements, params, elements, repository.format_cursor(position), fin=end
    )
