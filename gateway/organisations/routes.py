"""The administration API of operators (``/v1/admin``): the organisations and clients of their
territories; and the access journal of their notebooks (``/v1/journal``).

An operator is a client flagged ``operateur`` whose token carries the ``administration`` scope.
A territorial operator (of a département) acts within its organisation's territories, on the
actor kinds a territory has; the organisations of the matrix's national actor kinds (France
Travail, CAF/MSA, State services, software publishers) and their clients belong to national
operators (operator clients flagged ``national``, by the command line only), in every territory.
No operator disables its own client or its own organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from gateway import pagination
from gateway.auth.principal import Principal
from gateway.deps import DatabaseDep, PrincipalDep
from gateway.errors import NotFound, ProblemError
from gateway.habilitation import load_matrix
from gateway.habilitation.guard import InsufficientScope
from gateway.habilitation.journal import journal_page
from gateway.habilitation.matrix import ADMINISTRATION
from gateway.notebooks.wire import Journal
from gateway.organisations import service
from gateway.responses import OrjsonResponse
from gateway.storage import Session, organisations
from gateway.storage import notebooks as repository
from gateway.storage.organisations import is_dpo
from gateway.storage.tables import Client, Organisation

router = APIRouter(prefix="/v1/admin", tags=["administration"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton absent ou invalide."},
    403: {
        "description": "Pas un opérateur, hors de ses territoires, type d'acteur national"
        " (réservé aux opérateurs nationaux) ou désactivation de soi-même."
    },
    404: {"description": "Introuvable dans ses territoires."},
    422: {"description": "Corps invalide."},
}


class InvalidOrganisation(ProblemError):
    status = 422
    code = "organisation_invalide"
    title = "Organisation invalide."


class OutsideTerritories(ProblemError):
    status = 403
    code = "hors_territoires"
    title = "Cette organisation dépasse les territoires de l'opérateur."


class NotAnOperator(ProblemError):
    status = 403
    code = "operateur_non_habilite"
    title = "Seul l'opérateur d'un acteur qui pilote un territoire (département) l'administre."


class NationalActorKind(ProblemError):
    status = 403
    code = "type_acteur_national"
    title = (
        "Les organisations de ce type d'acteur et leurs clients relèvent d'un opérateur national."
    )


class NationalOperatorClient(ProblemError):
    status = 403
    code = "operateur_national"
    title = "Le client d'un opérateur national relève d'un opérateur national."


class DpoRequired(ProblemError):
    status = 403
    code = "dpo_requis"
    title = "Le journal des accès est lu par le délégué à la protection des données."


class SelfDisabling(ProblemError):
    status = 403
    code = "auto_desactivation"
    title = "Un opérateur ne désactive ni son propre client ni sa propre organisation."


def _steers(type_acteur: str) -> bool:
    """Does this actor kind steer its territories (see :attr:`ActorRights.steers`)?"""
    return load_matrix().actor(type_acteur).steers


def _national(type_acteur: str) -> bool:
    """Are this actor kind's organisations administered by national operators only?"""
    return load_matrix().actor(type_acteur).national


def _administration_scope(principal: Principal) -> None:
    if ADMINISTRATION not in principal.scopes:
        raise InsufficientScope(
            headers={
                "WWW-Authenticate": f'Bearer realm="carnet", error="insufficient_scope", scope="{ADMINISTRATION}"'
            }
        )


def operator(principal: PrincipalDep) -> Principal:
    """The caller, if its token carries the ``administration`` scope (an operator client) and
    its organisation steers its territories (a département): an operator of any other kind
    could otherwise give itself a département's reach. (The territorial operator of the journal
    and the deliveries; :func:`administrator` for the organisations and clients.)"""
    _administration_scope(principal)
    if not _steers(principal.type_acteur):
        raise NotAnOperator()
    return principal


OperatorDep = Annotated[Principal, Depends(operator)]


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator and what it administers."""

    principal: Principal
    #: Its organisation steers its territories (a département): it administers the
    #: organisations of the territorial actor kinds of these territories, and their clients.
    territorial: bool
    #: A national operator: it administers the organisations of the national actor kinds, in
    #: every territory, and their clients.
    national: bool


def administrator(principal: PrincipalDep, database: DatabaseDep) -> Operator:
    """The caller, if its token carries the ``administration`` scope and it is a territorial
    operator, a national operator or both. Whether it is national is read here, with the
    client's row as it is now (one indexed query, on these routes only)."""
    _administration_scope(principal)
    reach = Operator(
        principal,
        territorial=_steers(principal.type_acteur),
        national=organisations.is_national_operator(database, principal.client_id),
    )
    if not (reach.territorial or reach.national):
        raise NotAnOperator(
            "Seul l'opérateur d'un département, ou un opérateur national, administre"
            " organisations et clients."
        )
    return reach


AdministratorDep = Annotated[Operator, Depends(administrator)]


class NouvelleOrganisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nom: str = Field(min_length=1, max_length=255)
    type_acteur: str
    territoires: list[str] = Field(min_length=1, max_length=20)
    siret: str | None = Field(default=None, pattern=r"^[0-9]{14}$")


class NouveauClient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nom: str = Field(min_length=1, max_length=255)
    operateur: bool = False
    jwks: dict[str, Any] | None = Field(
        default=None, description="Clés publiques du client (private_key_jwt, sans secret)."
    )
    jwks_uri: str | None = Field(default=None, max_length=500, pattern=r"^https://")


class OrganisationVue(BaseModel):
    """Une organisation habilitée."""

    id: str
    nom: str
    type_acteur: str
    territoires: list[str]
    siret: str | None
    actif: bool


Organisations = pagination.page_of(
    OrganisationVue, name="Organisations", description="Les organisations, par identifiant."
)


def _organisation_wire(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "nom": organisation.nom,
        "type_acteur": organisation.type_acteur,
        "territoires": organisation.territoires,
        "siret": organisation.siret,
        "actif": organisation.actif,
    }


def _within(principal: Principal, territoires: list[str]) -> bool:
    return set(territoires) <= set(principal.territoires)


def _in_territories(reach: Operator, organisation: Organisation) -> bool:
    """Is the organisation within the territories the operator steers (it sees it listed)?"""
    return (
        reach.territorial
        and bool(organisation.territoires)
        and _within(reach.principal, organisation.territoires)
    )


def own_organisation(session: Session, reach: Operator, organisation_id: str) -> Organisation:
    """An organisation the operator administers. A national kind's: a national operator's,
    wherever it is. Another's: of a territorial operator's territories, and not another steering
    organisation (a département administers itself and the actors of its territory).

    A territorial operator is told that a national organisation it sees listed is not its own
    (403); anything else it does not administer does not exist for it (404).
    """
    organisation = organisations.organisation(session, organisation_id)
    if organisation is not None:
        if _national(organisation.type_acteur):
            if reach.national:
                return organisation
            if _in_territories(reach, organisation):
                raise NationalActorKind()
        elif _in_territories(reach, organisation) and (
            not _steers(organisation.type_acteur)
            or organisation.id == reach.principal.organisation_id
        ):
            return organisation
    raise NotFound("Organisation introuvable dans vos territoires.")


def _own_client(session: Session, reach: Operator, client_id: str) -> Client:
    """A client of an organisation the operator administers; a national operator's client is
    a national operator's only (its secret would give its reach)."""
    client = organisations.client(session, client_id)
    if client is None:
        raise NotFound("Client introuvable dans vos territoires.")
    own_organisation(session, reach, client.organisation_id)
    if client.national and not reach.national:
        raise NationalOperatorClient()
    return client


@router.get(
    "/organisations",
    summary="Les organisations de vos territoires (et, opérateur national, des types nationaux)",
    response_model=Organisations,
    responses=_RESPONSES,
)
def list_organisations(
    database: DatabaseDep,
    reach: AdministratorDep,
    params: Annotated[Any, Depends(pagination.params_of(Organisations))],
) -> Any:
    with database.read() as session:
        organisations = service.list_organisations(session)
    found = [
        _organisation_wire(o)
        for o in organisations
        if (reach.national and _national(o.type_acteur)) or _in_territories(reach, o)
    ]
    return pagination.keyset(Organisations, params, found, lambda o: str(o["id"]))


@router.post(
    "/organisations",
    status_code=201,
    summary="Habiliter une organisation de vos territoires",
    responses=_RESPONSES,
)
def create_organisation(
    body: NouvelleOrganisation, database: DatabaseDep, reach: AdministratorDep
) -> dict[str, Any]:
    if _national(body.type_acteur):
        if not reach.national:
            raise NationalActorKind()
    elif body.type_acteur in service.ACTOR_KINDS:  # an unknown kind is the service's 422
        if not reach.territorial:
            raise NotAnOperator(
                "Seul l'opérateur d'un département habilite les acteurs de son territoire."
            )
        if not _within(reach.principal, body.territoires):
            raise OutsideTerritories()
        if _steers(body.type_acteur):
            raise NotAnOperator(
                "Un acteur qui pilote un territoire s'habilite en dehors de l'API (carnet organisations create)."
            )
    try:
        with database.write() as session:
            organisation = service.create_organisation(
                session,
                nom=body.nom,
                type_acteur=body.type_acteur,
                territoires=body.territoires,
                siret=body.siret,
            )
    except service.InvalidOrganisation as error:
        raise InvalidOrganisation(str(error)) from None
    return _organisation_wire(organisation)


OrganisationId = Annotated[str, Path(max_length=36)]
ClientId = Annotated[str, Path(max_length=64)]


@router.post(
    "/organisations/{organisation_id}/clients",
    status_code=201,
    summary="Créer un client (son secret n'est montré qu'une fois)",
    responses=_RESPONSES,
)
def create_client(
    organisation_id: OrganisationId,
    body: NouveauClient,
    database: DatabaseDep,
    reach: AdministratorDep,
) -> Response:
    if body.operateur and organisation_id != reach.principal.organisation_id:
        raise NotAnOperator("Un client opérateur ne se crée que pour votre propre organisation.")
    try:
        with database.write() as session:
            own_organisation(session, reach, organisation_id)
            created = service.create_client(
                session,
                organisation_id=organisation_id,
                nom=body.nom,
                operateur=body.operateur,
                jwks=body.jwks,
                jwks_uri=body.jwks_uri,
            )
    except service.InvalidOrganisation as error:
        raise InvalidOrganisation(str(error)) from None
    return OrjsonResponse(
        {"client_id": created.client.client_id, "client_secret": created.secret or None},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/organisations/{organisation_id}/desactivation",
    status_code=204,
    summary="Désactiver une organisation et tous ses clients, à l'instant",
    responses=_RESPONSES,
)
def disable_organisation(
    organisation_id: OrganisationId, database: DatabaseDep, reach: AdministratorDep
) -> Response:
    if organisation_id == reach.principal.organisation_id:
        raise SelfDisabling()
    with database.write() as session:
        own_organisation(session, reach, organisation_id)
        service.set_organisation_active(session, organisation_id, False)
    return Response(status_code=204)


@router.post(
    "/clients/{client_id}/desactivation",
    status_code=204,
    summary="Désactiver un client : ses jetons sont refusés à l'instant",
    responses=_RESPONSES,
)
def disable_client(client_id: ClientId, database: DatabaseDep, reach: AdministratorDep) -> Response:
    if client_id == reach.principal.client_id:
        raise SelfDisabling()
    with database.write() as session:
        _own_client(session, reach, client_id)
        service.set_client_active(session, client_id, False)
    return Response(status_code=204)


@router.post(
    "/clients/{client_id}/secret",
    summary="Remplacer le secret d'un client (montré une fois ; l'ancien cesse de valoir)",
    responses=_RESPONSES,
)
def rotate_secret(client_id: ClientId, database: DatabaseDep, reach: AdministratorDep) -> Response:
    with database.write() as session:
        _own_client(session, reach, client_id)
        secret = service.rotate_secret(session, client_id)
    return OrjsonResponse(
        {"client_id": client_id, "client_secret": secret}, headers={"Cache-Control": "no-store"}
    )


#: The operators' access journal, at the root of the API.
journal_router = APIRouter(tags=["administration"])


@journal_router.get(
    "/v1/journal",
    summary=(
        "Le journal des accès : d'un carnet ou d'une organisation de vos territoires (délégué à "
        "la protection des données)"
    ),
    response_model=Journal,
    responses=_RESPONSES | {400: {"description": "Ni carnet ni organisation."}},
)
def journal(
    database: DatabaseDep,
    principal: OperatorDep,
    params: Annotated[Any, Depends(pagination.params_of(Journal))],
    carnet: Annotated[str | None, Query(max_length=36)] = None,
    organisation: Annotated[str | None, Query(max_length=36)] = None,
) -> Any:
    if carnet is None and organisation is None:
        raise ProblemError(
            errors=[
                {
                    "parameter": "carnet",
                    "code": "critere_requis",
                    "message": "Indiquez un carnet ou une organisation.",
                }
            ]
        )
    with database.read() as session:
        if carnet is not None:
            territoire = repository.territory_of(session, carnet)
            if territoire is None or territoire not in principal.territoires:
                raise NotFound("Carnet introuvable dans vos territoires.")
        if organisation is not None:
            # The journal is the territorial operator's: an organisation of its territories.
            territorial = Operator(principal, territorial=True, national=False)
            own_organisation(session, territorial, organisation)
        entries = repository.journal_of(
            session,
            carnet_id=carnet,
            organisation_id=organisation,
            after=pagination.number(params),
            limit=pagination.size(params) + 1,
        )
    if not is_dpo(database, principal.client_id):
        # The journal is for the data protection officer: an operator reading the accesses of
        # other organisations would be a window on their activity.
        raise DpoRequired()
    with database.write() as session:
        # The DPO's reads of the journal are journaled too.
        repository.record_access(
            session,
            {
                "horodatage": datetime.now(UTC),
                "client_id": principal.client_id,
                "organisation_id": principal.organisation_id,
                "type_acteur": principal.type_acteur,
                "carnet_id": carnet,
                "action": "journal",
                "categories": [],
                "finalite": None,
                "resultat": "servi_dpo",
                "agent": None,
            },
        )
    return journal_page(Journal, params, entries)
