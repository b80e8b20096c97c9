"""Organisations (habilitated actors) and their OAuth2 clients."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.auth.secrets import hash_secret, new_client_id, new_secret
from gateway.habilitation.matrix import SANDBOX
from gateway.storage import Session
from gateway.storage import organisations as repository
from gateway.storage.tables import Client, Organisation

#: Actor kinds of the legal frame (legal-frame.md §8.2).
ACTOR_KINDS = (
    "departement",
    "france_travail",
    "caf_msa",
    "mission_locale",
    "cap_emploi",
    "ccas_cias",
    "structure_insertion",
    "editeur_logiciel",
    "administration",
)
DEPARTEMENT = re.compile(r"^(?:0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$")


class InvalidOrganisation(ValueError):
    pass


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str


def create_organisation(
    session: Session,
    *,
    nom: str,
    type_acteur: str,
    territoires: list[str],
    siret: str | None = None,
) -> Organisation:
    if type_acteur not in ACTOR_KINDS:
        raise InvalidOrganisation(
            f"type d'acteur inconnu « {type_acteur} » ; types : {', '.join(ACTOR_KINDS)}"
        )
    if type_acteur == "editeur_logiciel":
        # A software publisher works in the sandbox territory, never in a département.
        if set(territoires) - {SANDBOX}:
            raise InvalidOrganisation(f"un éditeur de logiciel n'a que le territoire {SANDBOX}")
        territoires = [SANDBOX]
    elif not territoires or not all(DEPARTEMENT.match(t) for t in territoires):
        raise InvalidOrganisation("territoires : codes de département (01…95, 2A, 2B, 971…976)")
    if not nom.strip():
        raise InvalidOrganisation("nom vide")
    organisation = Organisation(
        id=str(uuid.uuid4()),
        nom=nom.strip(),
        type_acteur=type_acteur,
        territoires=sorted(set(territoires)),
        siret=siret,
        actif=True,
        cree_le=datetime.now(UTC),
    )
    repository.save(session, organisation)
    return organisation


def create_client(
    session: Session,
    *,
    organisation_id: str,
    nom: str,
    operateur: bool = False,
    national: bool = False,
    dpo: bool = False,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
) -> NewClient:
    """A new client; its secret is returned once and only its digest is stored. An operator
    client administers the organisations and clients of its organisation's territories; a
    national one, those of the matrix's national actor kinds, in every territory.

    A client registered with its public keys (``jwks`` or ``jwks_uri``) authenticates with
    ``private_key_jwt`` and has no secret.
    """
    if repository.organisation(session, organisation_id) is None:
        raise InvalidOrganisation(f"organisation inconnue « {organisation_id} »")
    if national and not operateur:
        raise InvalidOrganisation("seul un client opérateur peut être national")
    if dpo and not operateur:
        raise InvalidOrganisation(
            "seul un client opérateur peut être celui du délégué à la protection des données"
        )
    if jwks is not None and jwks_uri:
        raise InvalidOrganisation("clés publiques : en ligne ou par URL, pas les deux")
    if jwks is not None:
        try:
            keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise InvalidOrganisation(f"jeu de clés illisible ({type(error).__name__})") from None
        if any(key.is_private for key in keys):
            raise InvalidOrganisation(
                "le jeu de clés contient une clé privée : publiez-en la partie publique"
            )
    if jwks_uri is not None and not jwks_uri.startswith("https://"):
        raise InvalidOrganisation("l'URL des clés publiques doit être en https")
    with_keys = jwks is not None or bool(jwks_uri)
    secret = "" if with_keys else new_secret()
    client = Client(
        client_id=new_client_id(),
        organisation_id=organisation_id,
        nom=nom.strip() or "client",
        secret_hash=hash_secret(secret) if secret else "",
        actif=True,
        operateur=operateur,
        national=national,
        dpo=dpo,
        jwks=jwks,
        jwks_uri=jwks_uri,
        cree_le=datetime.now(UTC),
    )
    repository.save(session, client)
    return NewClient(client=client, secret=secret)


def rotate_secret(session: Session, client_id: str) -> str:
    """A new secret for a client (shown once); the previous one stops working at once."""
    client = repository.client(session, client_id)
    if client is None:
        raise InvalidOrganisation(f"client inconnu « {client_id} »")
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    repository.save(session, client)
    return secret


def set_client_active(session: Session, client_id: str, active: bool) -> None:
    """Enable or disable a client: a disabled client's tokens fail at its next request."""
    client = repository.client(session, client_id)
    if client is None:
        raise InvalidOrganisation(f"client inconnu « {client_id} »")
    client.actif = active
    repository.save(session, client)


def set_organisation_active(session: Session, organisation_id: str, active: bool) -> None:
    """Enable or disable an organisation and so every client of it, at once."""
    organisation = repository.organisation(session, organisation_id)
    if organisation is None:
        raise InvalidOrganisation(f"organisation inconnue « {organisation_id} »")
    organisation.actif = active
    repository.save(session, organisation)


def list_organisations(session: Session) -> list[Organisation]:
    return repository.by_name(session)
