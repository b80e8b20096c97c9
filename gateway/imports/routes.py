"""File imports: upload a CAF/MSA RSA file (202 and a job), then read the job's state."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Path, Request, UploadFile

from gateway.container import gateway_of
from gateway.deps import GuardDep
from gateway.imports import wire
from gateway.imports.service import FileTooLarge, ImportService
from gateway.responses import OrjsonResponse
from gateway.storage.tables import ImportJob

router = APIRouter(tags=["imports"])
logger = logging.getLogger(__name__)
PREFIX = "/v1/imports"
ImportId = Annotated[str, Path(max_length=36, description="Identifiant de l'import.")]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def to_wire(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "connecteur": job.connecteur,
        "statut": job.statut,
        "sha256": job.sha256,
        "octets": job.octets,
        "cree_le": _iso(job.cree_le),
        "modifie_le": _iso(job.modifie_le),
        "progression": {"foyers_traites": job.foyers_traites, "foyers_total": job.foyers_total},
        "rapport": job.rapport,
    }


def start_job(app: Any, job_id: str) -> None:
    """Run a job in a worker thread, tracked by the app (stopped cleanly at shutdown)."""
    service: ImportService = gateway_of(app).imports
    tasks: set[asyncio.Task[None]] = gateway_of(app).import_tasks
    task = asyncio.create_task(_run(service, job_id))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _run(service: ImportService, job_id: str) -> None:
    try:
        await anyio.to_thread.run_sync(service.run, job_id)
    except Exception as error:  # a defect: say which, never the values it held
        logger.error("import %s en échec : %s", job_id, type(error).__name__)


@router.post(
    f"{PREFIX}/caf-msa",
    summary="Importer un fichier de flux RSA de la CAF ou de la MSA (mensuel ou quotidien)",
    status_code=202,
    response_model=wire.Import,
    responses={
        202: {"description": "Fichier reçu : l'import est à Location (GET)."},
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Organisation non habilitée à importer ce flux, ou finalité refusée."},
        404: {"description": "Connecteur caf_msa non activé."},
        413: {"description": "Fichier trop volumineux."},
    },
)
async def upload_caf_msa(
    request: Request,
    guard: GuardDep,
    fichier: Annotated[UploadFile, File(description="Le fichier XML du flux (vrsb0801).")],
) -> OrjsonResponse:
    guard.require("ecriture")
    service: ImportService = gateway_of(request).imports
    if fichier.size is not None and fichier.size > service.max_bytes:
        raise FileTooLarge(f"Fichier de plus de {service.max_bytes} octets.")
    job = await anyio.to_thread.run_sync(service.submit, guard, fichier.file)
    if job.statut == "en_attente":
        start_job(request.app, job.id)
    return OrjsonResponse(to_wire(job), status_code=202, headers={"Location": f"{PREFIX}/{job.id}"})


@router.get(
    f"{PREFIX}/{{import_id}}",
    summary="L'état d'un import : statut, progression et rapport",
    response_model=wire.Import,
    responses={
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Finalité absente ou non autorisée."},
        404: {"description": "Import inconnu (ou d'une autre organisation)."},
    },
)
def import_status(request: Request, import_id: ImportId, guard: GuardDep) -> OrjsonResponse:
    service: ImportService = gateway_of(request).imports
    job = service.get(import_id, guard.principal.organisation_id)
    return OrjsonResponse(to_wire(job))
