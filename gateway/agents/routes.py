"""The agents of an organisation, administered by its operators (``/v1/admin``): the persons
its calls name (header ``Agent``), with the categories reserved to the referent that they are
habilitated for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from gateway import pagination
from gateway.deps import DatabaseDep
from gateway.errors import NotFound
from gateway.organisations.routes import AdministratorDep, Operator, own_organisation
from gateway.pagination import page_of
from gateway.storage import Session
from gateway.storage import agents as repository
from gateway.storage.tables import Agent

router = APIRouter(prefix="/v1/admin", tags=["administration"])

#: The categories an agent may be habilitated for beyond its organisation's reach: those the
#: matrix may reserve to the referent.
Reserved = Literal["sante_handicap", "justice"]
OrganisationId = Annotated[str, Path(max_length=36)]
AgentId = Annotated[str, Path(max_length=36)]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton absent ou invalide."},
    403: {"description": "Pas un opérateur de cette organisation."},
    404: {"description": "Introuvable dans ce que vous administrez."},
    422: {"description": "Corps invalide."},
}


class NouvelAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nom: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    courriel: str = Field(max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    habilitations: list[Reserved] = Field(default_factory=list, max_length=2)
    sub: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Son identifiant (sub) chez le fournisseur d'identité externe.",
    )


class Habilitations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    habilitations: list[Reserved] = Field(max_length=2)


class AgentVue(BaseModel):
    id: str
    organisation_id: str
    nom: str
    courriel: str
    role: str
    habilitations: list[str]
    actif: bool


def _wire(agent: Agent) -> AgentVue:
    return AgentVue(
        id=agent.id,
        organisation_id=agent.organisation_id,
        nom=agent.nom,
        courriel=agent.courriel,
        role=agent.role,
        habilitations=list(agent.habilitations),
        actif=agent.actif,
    )


def _own_agent(session: Session, reach: Operator, agent_id: str) -> Agent:
    agent = repository.by_id(session, agent_id)
    if agent is None:
        raise NotFound("Agent introuvable.")
    own_organisation(session, reach, agent.organisation_id)
    return agent


@router.post(
    "/organisations/{organisation_id}/agents",
    status_code=201,
    summary="Déclarer un agent de l'organisation (la personne qui agit)",
    response_model=AgentVue,
    responses=_RESPONSES,
)
def create_agent(
    organisation_id: OrganisationId,
    body: NouvelAgent,
    database: DatabaseDep,
    reach: AdministratorDep,
) -> AgentVue:
    with database.write() as session:
        own_organisation(session, reach, organisation_id)
        agent = repository.create(
            session,
            organisation_id=organisation_id,
            nom=body.nom,
            courriel=body.courriel,
            role=body.role,
            habilitations=list(body.habilitations),
            at=datetime.now(UTC),
            sub=body.sub,
        )
        return _wire(agent)


Agents = page_of(AgentVue, name="Agents", description="Les agents, par identifiant.")


@router.get(
    "/organisations/{organisation_id}/agents",
    summary="Les agents de l'organisation",
    response_model=Agents,
    responses=_RESPONSES,
)
def list_agents(
    organisation_id: OrganisationId,
    database: DatabaseDep,
    reach: AdministratorDep,
    params: Annotated[Any, Depends(pagination.params_of(Agents))],
) -> Any:
    with database.read() as session:
        own_organisation(session, reach, organisation_id)
        found = [_wire(agent) for agent in repository.of_organisation(session, organisation_id)]
    return pagination.keyset(Agents, params, found, lambda agent: agent.id)


@router.put(
    "/agents/{agent_id}/habilitations",
    summary="Habiliter un agent aux catégories réservées au référent (santé, justice)",
    response_model=AgentVue,
    responses=_RESPONSES,
)
def set_habilitations(
    agent_id: AgentId, body: Habilitations, database: DatabaseDep, reach: AdministratorDep
) -> AgentVue:
    with database.write() as session:
        agent = _own_agent(session, reach, agent_id)
        habilitations = sorted(set(body.habilitations))
        return _wire(repository.update(session, agent, habilitations=habilitations))


@router.post(
    "/agents/{agent_id}/desactivation",
    summary="Désactiver un agent (ses appels sont refusés aussitôt)",
    response_model=AgentVue,
    responses=_RESPONSES,
)
def disable_agent(agent_id: AgentId, database: DatabaseDep, reach: AdministratorDep) -> AgentVue:
    with database.write() as session:
        agent = _own_agent(session, reach, agent_id)
        return _wire(repository.update(session, agent, actif=False))
