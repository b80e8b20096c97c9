"""Connector operations: the list with health, and one notebook's pull on demand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request

from connectors import BATCH, Agent
from gateway.connectors import repository, wire
from gateway.connectors.loader import Connectors
from gateway.connectors.service import SyncService
from gateway.deps import DatabaseDep, GuardDep, PrincipalDep
from gateway.responses import OrjsonResponse

router = APIRouter(tags=["connecteurs"])


def _iso(moment: object) -> str | None:
    if moment is None:
        return None
    text: str = moment.isoformat()  # type: ignore[attr-defined]
    return text.replace("+00:00", "Z")


@router.get(
    "/v1/connecteurs",
    summary="Connecteurs activés : version, capacités, territoires, santé",
    response_model=wire.ListeConnecteurs,
    responses={401: {"description": "Jeton absent ou invalide."}},
)
def list_connectors(
    request: Request, principal: PrincipalDep, database: DatabaseDep
) -> OrjsonResponse:
    connectors: Connectors = request.app.state.connectors
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
    carnet_id: Annotated[str, Path(max_length=36, description="Identifiant du carnet.")],
    slug: Annotated[
        str, Path(max_length=60, description="Connecteur, par exemple france_travail.")
    ],
    guard: GuardDep,
    demande: Annotated[wire.DemandeSynchronisation | None, Body()] = None,
) -> OrjsonResponse:
    guard.require("ecriture")
    service: SyncService = request.app.state.sync
    agent = BATCH
    if demande is not None and demande.agent is not None:
        agent = Agent(demande.agent.identifiant, demande.agent.nom, demande.agent.prenom)
    result = await service.synchronise(
        slug,
        carnet_id,
        trigger=guard,
        agent=agent,
        force=demande is not None and demande.forcer,
    )
    return OrjsonResponse(result.to_wire())
