"""The embedded demo: a made-up territory with two organisations, their clients, a few notebooks."""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson
from sqlmodel import select

from gateway.auth.principal import Principal
from gateway.auth.secrets import hash_secret, new_secret
from gateway.habilitation import load_matrix
from gateway.habilitation.guard import Guard
from gateway.notebooks.service import NotebookService
from gateway.organisations.service import create_client, create_organisation
from gateway.storage.database import Database
from gateway.storage.tables import Client, Organisation
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


def seed(database: Database, validator: Validator, notebooks: int = 5) -> list[DemoCredentials]:
    """Create the demo organisations and notebooks once; give their clients fresh secrets."""
    credentials: list[DemoCredentials] = []
    with database.write() as session:
        existing = {o.nom: o for o in session.exec(select(Organisation))}
        first_run = not any(nom in existing for nom, _, _ in ORGANISATIONS)
        for nom, type_acteur, client_name in ORGANISATIONS:
            organisation = existing.get(nom) or create_organisation(
                session, nom=nom, type_acteur=type_acteur, territoires=[TERRITOIRE]
            )
            client = session.exec(
                select(Client).where(Client.organisation_id == organisation.id)
            ).first()
            if client is None:
                created = create_client(session, organisation_id=organisation.id, nom=client_name)
                client, secret = created.client, created.secret
            else:
                secret = new_secret()
                client.secret_hash = hash_secret(secret)
                session.add(client)
            credentials.append(DemoCredentials(nom, type_acteur, client.client_id, secret))
        if first_run:
            departement = session.exec(
                select(Organisation).where(Organisation.nom == ORGANISATIONS[0][0])
            ).one()
            client = session.exec(
                select(Client).where(Client.organisation_id == departement.id)
            ).one()
            principal = Principal(
                client_id=client.client_id,
                organisation_id=departement.id,
                type_acteur=departement.type_acteur,
                territoires=(TERRITOIRE,),
                scopes=frozenset({"carnets"}),
            )
            guard = Guard(load_matrix(), principal, "accompagnement")
            service = NotebookService(session, validator, guard)
            rng = random.Random(2026)
            for _ in range(notebooks):
                carnet = samples.generate_carnet(rng)
                carnet["territoire"] = TERRITOIRE
                service.create_or_find(orjson.dumps(carnet), with_view=False)
    return credentials
