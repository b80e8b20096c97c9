"""``carnet organisations`` and ``carnet clients``: the organisations and their OAuth2 clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import ClientId, OrganisationId, administer, open_database

organisations_app = typer.Typer(no_args_is_help=True, help="Organisations habilitées.")
clients_app = typer.Typer(no_args_is_help=True, help="Clients OAuth2 des organisations.")


@organisations_app.command("create")
def organisations_create(
    nom: Annotated[str, typer.Option(help="Nom de l'organisation.")],
    type_acteur: Annotated[str, typer.Option("--type", help="Type d'acteur (departement, …).")],
    territoire: Annotated[
        list[str], typer.Option("--territoire", help="Code de département (répétable).")
    ],
    siret: Annotated[str | None, typer.Option(help="SIRET.")] = None,
) -> None:
    """Enregistre une organisation habilitée ; affiche son identifiant."""
    from gateway.organisations.service import InvalidOrganisation, create_organisation

    database = open_database()
    try:
        with database.write() as session:
            organisation = create_organisation(
                session, nom=nom, type_acteur=type_acteur, territoires=territoire, siret=siret
            )
    except InvalidOrganisation as error:
        typer.echo(f"Organisation refusée : {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(organisation.id)


@clients_app.command("create")
def clients_create(
    organisation: Annotated[str, typer.Option(help="Identifiant de l'organisation.")],
    nom: Annotated[str, typer.Option(help="Nom du client (le SI qui appelle).")] = "client",
    operateur: Annotated[
        bool,
        typer.Option(
            help="Client d'opérateur : administre les organisations et clients de ses territoires."
        ),
    ] = False,
    national: Annotated[
        bool,
        typer.Option(
            help="Opérateur national (avec --operateur) : administre les organisations des types"
            " d'acteur nationaux (France Travail, CAF/MSA…) de tous les territoires."
        ),
    ] = False,
    dpo: Annotated[
        bool,
        typer.Option(
            help="Client du délégué à la protection des données (avec --operateur) : lit le"
            " journal entier des carnets de sa portée."
        ),
    ] = False,
    jwks: Annotated[
        Path | None,
        typer.Option(help="Clés publiques (JWKS) du client : authentification private_key_jwt."),
    ] = None,
    jwks_uri: Annotated[
        str | None, typer.Option(help="URL https des clés publiques du client (private_key_jwt).")
    ] = None,
) -> None:
    """Crée un client OAuth2 ; son secret est affiché une seule fois (seule son empreinte est gardée)."""
    from gateway.organisations.service import InvalidOrganisation, create_client

    database = open_database()
    try:
        with database.write() as session:
            created = create_client(
                session,
                organisation_id=organisation,
                nom=nom,
                operateur=operateur,
                national=national,
                dpo=dpo,
                jwks=json.loads(jwks.read_text(encoding="utf-8")) if jwks else None,
                jwks_uri=jwks_uri,
            )
    except (InvalidOrganisation, ValueError) as error:
        typer.echo(f"Client refusé : {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"client_id={created.client.client_id}")
    if created.secret:
        typer.echo(f"client_secret={created.secret}")
        typer.echo("Notez ce secret : il ne sera plus affiché.")
    else:
        typer.echo("Authentification : private_key_jwt (assertion signée par la clé du client).")


@clients_app.command("rotate-secret")
def clients_rotate_secret(client: ClientId) -> None:
    """Remplace le secret d'un client (affiché une seule fois) ; l'ancien cesse de valoir."""
    from gateway.organisations.service import rotate_secret

    secret = administer(lambda session: rotate_secret(session, client), "Rotation refusée")
    typer.echo(f"client_secret={secret}")
    typer.echo("Notez ce secret : il ne sera plus affiché.")


@clients_app.command("disable")
def clients_disable(client: ClientId) -> None:
    """Désactive un client : ses jetons sont refusés dès la requête suivante."""
    from gateway.organisations.service import set_client_active

    administer(lambda session: set_client_active(session, client, False), "Refusé")
    typer.echo(f"client {client} désactivé")


@clients_app.command("enable")
def clients_enable(client: ClientId) -> None:
    """Réactive un client."""
    from gateway.organisations.service import set_client_active

    administer(lambda session: set_client_active(session, client, True), "Refusé")
    typer.echo(f"client {client} activé")


@organisations_app.command("disable")
def organisations_disable(organisation: OrganisationId) -> None:
    """Désactive une organisation et tous ses clients, dès la requête suivante."""
    from gateway.organisations.service import set_organisation_active

    administer(lambda session: set_organisation_active(session, organisation, False), "Refusé")
    typer.echo(f"organisation {organisation} désactivée")
