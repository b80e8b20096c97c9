"""The embedded demo: a made-up territory with two organisations, their clients, a few notebooks."""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

from gateway.agents.service import reserve_agent
from gateway.auth.principal import ClientRights, Principal, principal_of
from gateway.habilitation import load_matrix
from gateway.habilitation.guard import Guard
from gateway.habilitation.matrix import SANDBOX
from gateway.notebooks.service import NotebookService
from gateway.organisations.service import create_client, create_organisation, rotate_secret
from gateway.storage import Session, agents, organisations
from gateway.storage import notebooks as notebooks_repository
from gateway.storage.database import Database
from referential import Validator, samples

TERRITOIRE = "26"
ORGANISATIONS = (
    ("Département de démonstration", "departement", "demo-departement"),
    ("Association d'insertion de démonstration", "structure_insertion", "demo-structure"),
)


@dataclass(frozen=True)
class DemoCredentials:
    organisation: str
    type_acteur: str
    client_id: str
    client_secret: str
    #: The organisation's demo agent, habilitated for the categories reserved to the referent
    #: (to name in the ``Agent`` header); None for a kind that has none.
    agent: str | None = None


#: Who the journal says wrote the made-up notebooks.
SEED_AGENT = "donnees-fictives"


def seed(database: Database, validator: Validator, notebooks: int = 5) -> list[DemoCredentials]:
    """Create the demo organisations and notebooks once; give their clients fresh secrets."""
    credentials: list[DemoCredentials] = []
    with database.write() as session:
        existing = {o.nom: o for o in organisations.by_name(session)}
        first_run = not any(nom in existing for nom, _, _ in ORGANISATIONS)
        made = []
        for nom, type_acteur, client_name in ORGANISATIONS:
            organisation = existing.get(nom) or create_organisation(
                session, nom=nom, type_acteur=type_acteur, territoires=[TERRITOIRE]
            )
            client = organisations.first_client(session, organisation.id)
            if client is None:
                created = create_client(session, organisation_id=organisation.id, nom=client_name)
                client, secret = created.client, created.secret
            else:
                secret = rotate_secret(session, client.client_id)
            made.append((organisation, client))
            agent = _demo_agent(session, organisation.id, type_acteur)
            credentials.append(DemoCredentials(nom, type_acteur, client.client_id, secret, agent))
        if first_run:
            departement, client = made[0]
            rights = ClientRights(departement.id, departement.type_acteur, (TERRITOIRE,), (), False)
            principal = principal_of(load_matrix(), client.client_id, rights)
            _made_up_notebooks(session, validator, principal, notebooks, seed=2026)
    return credentials


def _demo_agent(session: Session, organisation_id: str, type_acteur: str) -> str | None:
    """The organisation's demo agent (created once), habilitated for what the matrix reserves
    to the referent for its kind."""
    existing = agents.of_organisation(session, organisation_id)
    if existing:
        return existing[0].id
    return reserve_agent(
        session,
        organisation_id,
        type_acteur,
        nom="Agent de démonstration",
        courriel="agent@demo.example",
    )


def seed_sandbox(database: Database, validator: Validator, notebooks: int) -> int:
    """Add made-up notebooks to the sandbox territory, where software publishers try their
    integration; the number of notebooks it then holds."""
    rights = ClientRights("bac-a-sable", "departement", (SANDBOX,), (), False)
    principal = principal_of(load_matrix(), "bac-a-sable", rights)
    with database.write() as session:
        held = notebooks_repository.count_in_territory(session, SANDBOX)
        _made_up_notebooks(session, validator, principal, notebooks, seed=held)
    return held + notebooks


def _made_up_notebooks(
    session: Session, validator: Validator, principal: Principal, count: int, *, seed: int
) -> None:
    # The made-up data is written whole, reserved categories included.
    matrix = load_matrix()
    guard = Guard(
        matrix,
        principal,
        "accompagnement",
        agent=SEED_AGENT,
        agent_habilitations=matrix.actor(principal.type_acteur).reserve,
    )
    service = NotebookService(session, validator, guard)
    rng = random.Random(seed)
    for _ in range(count):
        carnet = samples.generate_carnet(rng)
        carnet.pop("territoire", None)
        service.create_or_find(orjson.dumps(carnet), with_view=False)
