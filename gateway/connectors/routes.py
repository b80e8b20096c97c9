"""Connector operations: the list with health, one notebook's pull on demand (or in the
background), and the state of its last pull."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import Response

from connectors import BATCH, Agent
from gateway.connectors import wire
from gateway.connectors.loader import Connectors
from gateway.connectors.service import Prepared, SyncService
from gateway.container import gateway_of
from gateway.deps import DatabaseDep, GuardDep, PrincipalDep
from gateway.errors import ProblemError
from gateway.responses import OrjsonResponse
from gateway.storage import connectors as repository

router = APIRouter(tags=["connecteurs"])
logger = logging.getLogger(__name__)
CarnetId = Annotated[str, Path(max_length=36, description="Identifiant du carnet.")]
Slug = Annotated[str, Path(max_length=60, description="Connecteur, par exemple france_travail.")]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@router.get(
    "/v1/connecteurs",
    summary="Connecteurs activés : version, capacités, territoires, santé",
    response_model=wire.ListeConnecteurs,
    responses={401: {"description": "Jeton absent ou invalide."}},
)
def list_connectors(
    request: Request, principal: PrincipalDep, database: DatabaseDep
) -> OrjsonResponse:
    connectors: Connectors = gateway_of(request).connectors
    with database.read() as session:
        health = repository.health(session)
    items = []
    for entry in connectors:
        connector = entry.connector
        row = health.get(connector.slug)
        failure = None
        if row is not None and row.dernier_echec is not None:
            failure = {"le": _iso(row.dernier_echec), "code": row.dernier_code_erreur or ""}
        items.append(
            {
                "slug": connector.slug,
                "version": connector.version,
                "description": connector.description,
                "type_acteur": connector.type_acteur,
                "capacites": [str(c) for c in connector.capabilities()],
                "territoires": list(entry.territoires),
                "sante": {
                    "derniere_reussite": None if row is None else _iso(row.derniere_reussite),
                    "dernier_echec": failure,
                    "compteurs": {
                        "appels": 0 if row is None else row.appels,
                        "reussites": 0 if row is None else row.reussites,
                        "echecs": 0 if row is None else row.echecs,
                        "inchanges": 0 if row is None else row.inchanges,
                        "codes_inconnus": 0 if row is None else row.codes_inconnus,
                        "champs_inconnus": 0 if row is None else row.champs_inconnus,
                    },
                    # The breaker's state as last reported by a worker, else this worker's.
                    "circuit": str(connector.circuit()) if row is None else row.circuit,
                },
            }
        )
    return OrjsonResponse({"connecteurs": items})


@router.post(
    "/v1/carnets/{carnet_id}/synchronisations/{slug}",
    summary="Interroger un système partenaire pour ce carnet et verser ce qu'il sait",
    response_model=wire.ResultatSynchronisation,
    responses={
        202: {"description": "Demande acceptée (Prefer: respond-async) : l'état est à Location."},
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Finalité non autorisée ou droit d'écriture absent du jeton."},
        404: {"description": "Carnet introuvable, ou connecteur inconnu ou non activé."},
        409: {"description": "Connecteur non activé dans ce territoire, ou sans capacité pull."},
        502: {"description": "Réponse du partenaire invalide ou refus de sa part."},
        503: {"description": "Partenaire indisponible (Retry-After), ou connecteur mal configuré."},
        504: {"description": "Partenaire trop lent."},
    },
)
async def synchronise(
    request: Request,
    carnet_id: CarnetId,
    slug: Slug,
    guard: GuardDep,
    demande: Annotated[wire.DemandeSynchronisation | None, Body()] = None,
    prefer: Annotated[
        str | None,
        Header(
            description=(
                "RFC 7240 : « respond-async » répond 202 aussitôt et interroge le partenaire en "
                "arrière-plan ; l'état se lit à la même adresse (GET)."
            )
        ),
    ] = None,
) -> Response:
    guard.require("ecriture")
    guard.require_reading("situation")
    service: SyncService = gateway_of(request).sync
    agent = BATCH
    if demande is not None and demande.agent is not None:
        agent = Agent(demande.agent.identifiant, demande.agent.nom, demande.agent.prenom)
    force = demande is not None and demande.forcer
    prepared = await service.prepare(slug, carnet_id, guard)
    if prefer and "respond-async" in {token.strip().lower() for token in prefer.split(",")}:
        pulls: set[asyncio.Task[None]] = gateway_of(request).pulls
        task = asyncio.create_task(_in_background(service, prepared, agent, force))
        pulls.add(task)
        task.add_done_callback(pulls.discard)
        return Response(
            status_code=202,
            headers={
                "Location": f"/v1/carnets/{carnet_id}/synchronisations/{slug}",
                "Preference-Applied": "respond-async",
            },
        )
    result = await service.run(prepared, agent=agent, force=force)
    return OrjsonResponse(result.to_wire())


async def _in_background(
    service: SyncService, prepared: Prepared, agent: Agent, force: bool
) -> None:
    try:
        await service.run(prepared, agent=agent, force=force)
    except ProblemError as error:
        # Already recorded in the connector's health and the notebook's pull state.
        logger.warning("synchronisation en arrière-plan en échec : %s", error.code)
    except Exception as error:  # a defect: say which, never the values it held
        logger.error("synchronisation en arrière-plan interrompue : %s", type(error).__name__)


@router.get(
    "/v1/carnets/{carnet_id}/synchronisations/{slug}",
    summary="État de la dernière synchronisation de ce carnet par ce connecteur",
    response_model=wire.EtatSynchronisation,
    responses={
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Finalité non autorisée ou droit de lecture absent du jeton."},
        404: {"description": "Carnet introuvable, ou connecteur inconnu ou non activé."},
    },
)
def synchronisation_status(
    request: Request, carnet_id: CarnetId, slug: Slug, guard: GuardDep
) -> OrjsonResponse:
    guard.require("lecture")
    service: SyncService = gateway_of(request).sync
    state = service.status(slug, carnet_id, guard)
    return OrjsonResponse(
        {
            "connecteur": slug,
            "carnet_id": carnet_id,
            "derniere_tentative": None if state is None else _iso(state.derniere_tentative),
            "derniere_reussite": None if state is None else _iso(state.derniere_reussite),
            "dernier_resultat": None if state is None else state.dernier_resultat,
            "non_confirme_depuis": None if state is None else _iso(state.non_confirme_depuis),
        }
    )
