"""``/v1/abonnements``: webhook subscriptions of the caller's organisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from gateway import pagination
from gateway.auth.principal import Principal
from gateway.container import gateway_of
from gateway.deps import DatabaseDep, PrincipalDep
from gateway.errors import NotFound
from gateway.habilitation.guard import InsufficientScope
from gateway.habilitation.matrix import SCOPE_PREFIX, Matrix
from gateway.organisations.routes import OperatorDep
from gateway.pagination import page_of
from gateway.settings import Settings
from gateway.storage import subscriptions as repository
from gateway.storage.tables import Delivery
from gateway.subscriptions import service
from gateway.subscriptions.outbox import PENDING
from gateway.subscriptions.service import InvalidSubscription

router = APIRouter(prefix="/v1/abonnements", tags=["abonnements"])
admin_router = APIRouter(prefix="/v1/admin/livraisons", tags=["administration"])

READ_SCOPE = SCOPE_PREFIX + "lecture"
_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton absent ou invalide."},
    403: {"description": "Jeton sans droit de lecture des carnets."},
}
_ONE: dict[int | str, dict[str, Any]] = {
    **_RESPONSES,
    404: {"description": "Abonnement introuvable pour votre organisation."},
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_ONE,
    422: {"description": "Champ invalide : erreurs localisées par pointeur JSON."},
}
SubscriptionId = Annotated[str, Path(description="Identifiant de l'abonnement.", max_length=36)]
Territoires = Annotated[
    list[Annotated[str, Field(max_length=3)]],
    Field(max_length=110, description="Territoires suivis (vide : tous les vôtres)."),
]
Sections = Annotated[
    list[Annotated[str, Field(max_length=40)]],
    Field(max_length=20, description="Volets suivis (vide : tous)."),
]
Categories = Annotated[
    list[Annotated[str, Field(max_length=40)]],
    Field(max_length=20, description="Catégories de données suivies (vide : toutes)."),
]
Types = Annotated[
    list[Annotated[str, Field(max_length=40)]],
    Field(
        max_length=10,
        description=(
            "Événements : carnet.cree, carnet.modifie, carnet.rattachement_demande, "
            "carnet.rattachement_decide, battement (signe de vie)."
        ),
    ),
]
Url = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2000,
        description=(
            "Destination des événements : une URL https d'une adresse publique (sans "
            "identifiants ; son nom est résolu et vérifié à chaque livraison) ; "
            "« connecteur:<slug> » pour un connecteur de livraison (connecteur:departement_si) ; "
            "hors production, http ou https sur la boucle locale (localhost, 127.0.0.1, [::1])."
        ),
    ),
]


def subscriber(principal: PrincipalDep) -> Principal:
    """A caller whose token may read notebooks: the events are about notebooks."""
    if READ_SCOPE not in principal.scopes:
        raise InsufficientScope(
            headers={
                "WWW-Authenticate": f'Bearer realm="carnet", error="insufficient_scope", scope="{READ_SCOPE}"'
            }
        )
    return principal


SubscriberDep = Annotated[Principal, Depends(subscriber)]


InclureSections = Annotated[
    bool,
    Field(
        description=(
            "Joindre à chaque événement les volets modifiés (parmi ceux de sections, s'il en "
            "nomme), projetés sur les catégories que votre habilitation permet d'exporter "
            "(et parmi celles de categories, s'il en nomme) ; lus à la livraison, journalisés "
            "avec la finalité. Sans cela, l'événement ne porte que des identifiants."
        )
    ),
]
Finalite = Annotated[
    str,
    Field(
        max_length=40,
        description="Finalité des volets joints, au journal (obligatoire avec inclure_sections).",
    ),
]


class NouvelAbonnement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    territoires: Territoires = []
    sections: Sections = []
    categories: Categories = []
    types: Types = ["carnet.cree", "carnet.modifie"]
    inclure_sections: InclureSections = False
    finalite: Finalite | None = None


class ModificationAbonnement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    territoires: Territoires | None = None
    sections: Sections | None = None
    categories: Categories | None = None
    types: Types | None = None
    actif: bool | None = None
    inclure_sections: InclureSections | None = None
    finalite: Finalite | None = None


class Abonnement(BaseModel):
    id: str
    url: str
    territoires: list[str]
    sections: list[str]
    categories: list[str]
    types: list[str]
    actif: bool
    motif_desactivation: str | None = Field(
        description="Pourquoi il ne reçoit plus rien : desactive (par vous), destinataire_disparu (410)."
    )
    inclure_sections: bool = Field(description="Les volets modifiés sont joints aux événements.")
    finalite: str | None = Field(description="Finalité des volets joints.")
    secrets_valides: int = Field(description="2 pendant une rotation du secret, 1 sinon.")
    precedent_expire_le: datetime | None = Field(
        description="Fin de validité du secret précédent (pendant une rotation)."
    )
    cree_le: datetime
    modifie_le: datetime


class AbonnementCree(Abonnement):
    secret: str = Field(description="Secret de signature : affiché cette seule fois.")


class NouveauSecret(BaseModel):
    secret: str = Field(description="Nouveau secret de signature : affiché cette seule fois.")
    precedent_expire_le: datetime = Field(
        description="Jusqu'à cette date, les événements sont signés aussi avec le précédent."
    )


def _check(request: Request, principal: Principal, fields: dict[str, Any]) -> None:
    settings: Settings = gateway_of(request).settings
    allow = settings.environment != "production"
    errors = service.check(fields, principal, allow_loopback_http=allow)
    if errors:
        raise InvalidSubscription(errors=errors)


def _check_inclusion(request: Request, principal: Principal, fields: dict[str, Any]) -> None:
    """Embedding sections: the caller's rights, with its organisation's overrides, within its
    token's scopes."""
    matrix: Matrix = gateway_of(request).matrix
    actor = matrix.effective(principal.type_acteur, principal.derogations, principal.scopes)
    errors = service.check_inclusion(fields, actor)
    if errors:
        raise InvalidSubscription(errors=errors)


def _not_found() -> NotFound:
    return NotFound("Abonnement introuvable pour votre organisation.")


@router.post(
    "",
    status_code=201,
    response_model=AbonnementCree,
    summary="S'abonner aux événements des carnets (le secret de signature n'est montré qu'ici)",
    responses=_WRITE,
)
def create_subscription(
    request: Request, body: NouvelAbonnement, database: DatabaseDep, principal: SubscriberDep
) -> Any:
    fields = body.model_dump()
    _check(request, principal, fields)
    _check_inclusion(request, principal, fields)
    now = datetime.now(UTC)
    subscription, secret = service.create(principal, fields, now, gateway_of(request).keyring)
    with database.write() as session:
        repository.add(session, subscription)
        answer = service.wire(subscription, now) | {"secret": secret}
    return answer


Abonnements = page_of(
    Abonnement, name="Abonnements", description="Les abonnements, par identifiant."
)


@router.get(
    "",
    response_model=Abonnements,
    summary="Les abonnements de votre organisation",
    responses=_RESPONSES,
)
def list_subscriptions(
    database: DatabaseDep,
    principal: SubscriberDep,
    params: Annotated[Any, Depends(pagination.params_of(Abonnements))],
) -> Any:
    with database.read() as session:
        found = [
            service.wire(s) for s in repository.of_organisation(session, principal.organisation_id)
        ]
    return pagination.keyset(Abonnements, params, found, lambda s: str(s["id"]))


@router.get("/{abonnement_id}", response_model=Abonnement, summary="Un abonnement", responses=_ONE)
def get_subscription(
    abonnement_id: SubscriptionId, database: DatabaseDep, principal: SubscriberDep
) -> Any:
    with database.read() as session:
        found = repository.get(session, abonnement_id, principal.organisation_id)
        if found is None:
            raise _not_found()
        return service.wire(found)


@router.patch(
    "/{abonnement_id}",
    response_model=Abonnement,
    summary="Modifier un abonnement (destination, filtres, actif)",
    responses=_WRITE,
)
def update_subscription(
    request: Request,
    abonnement_id: SubscriptionId,
    body: ModificationAbonnement,
    database: DatabaseDep,
    principal: SubscriberDep,
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url", "") is None:
        raise InvalidSubscription(
            errors=[{"pointer": "/url", "code": "url_requise", "message": "URL requise."}]
        )
    _check(request, principal, changes)
    with database.write() as session:
        found = repository.get(session, abonnement_id, principal.organisation_id)
        if found is None:
            raise _not_found()
        changes = {k: v for k, v in changes.items() if v is not None}
        current = {
            "url": found.url,
            "inclure_sections": found.inclure_sections,
            "finalite": found.finalite,
        }
        if set(current) & set(changes):  # (turning it off stays possible whatever the rights)
            _check_inclusion(request, principal, current | changes)
        service.update(found, changes, _now())
        return service.wire(found)


@router.delete("/{abonnement_id}", status_code=204, summary="Se désabonner", responses=_ONE)
def delete_subscription(
    abonnement_id: SubscriptionId, database: DatabaseDep, principal: SubscriberDep
) -> Response:
    with database.write() as session:
        found = repository.get(session, abonnement_id, principal.organisation_id)
        if found is None:
            raise _not_found()
        repository.remove(session, found)
    return Response(status_code=204)


@router.post(
    "/{abonnement_id}/secret",
    response_model=NouveauSecret,
    summary="Renouveler le secret de signature (l'ancien reste valide 24 heures)",
    responses=_ONE,
)
def rotate_secret(
    request: Request, abonnement_id: SubscriptionId, database: DatabaseDep, principal: SubscriberDep
) -> Any:
    now = _now()
    with database.write() as session:
        found = repository.get(session, abonnement_id, principal.organisation_id)
        if found is None:
            raise _not_found()
        secret = service.rotate(found, now, gateway_of(request).keyring)
        return {"secret": secret, "precedent_expire_le": found.precedent_expire_le}


class EcartSchema(BaseModel):
    pointer: str = Field(description="Pointeur JSON dans le corps qui aurait été envoyé.")
    code: str = Field(description="Code stable de l'écart (champ_obligatoire, type_invalide…).")


class Livraison(BaseModel):
    id: int
    evenement_id: str = Field(description="L'en-tête webhook-id, le même à chaque tentative.")
    type: str
    carnet_id: str | None
    version: int | None
    statut: str = Field(
        description="en_attente, livre, echec (toutes les tentatives ont échoué), abandonne (410)."
    )
    tentatives: int
    prochaine_tentative: datetime | None
    dernier_statut_http: int | None
    derniere_erreur: str | None = Field(
        description=(
            "Code de la dernière erreur : statut_<code HTTP>, delai_depasse, "
            "connexion_impossible, certificat_invalide, adresse_interne, nom_introuvable, "
            "url_invalide (échec définitif), erreur_livraison, "
            "corps_non_conforme (corps non envoyé : voir « erreurs »), "
            "ou le code d'erreur du connecteur."
        )
    )
    erreurs: list[EcartSchema] = Field(
        description=(
            "Avec corps_non_conforme : où le corps s'écartait de son schéma publié "
            "(openapi/schemas/sortants-1) ; il n'a pas été envoyé."
        )
    )
    livre_le: datetime | None
    cree_le: datetime


Livraisons = page_of(
    Livraison, name="Livraisons", description="Les livraisons, les plus récentes d'abord."
)


def _delivery_wire(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "evenement_id": delivery.evenement_id,
        "type": delivery.type,
        "carnet_id": delivery.carnet_id,
        "version": delivery.version,
        "statut": delivery.statut,
        "tentatives": delivery.tentatives,
        "prochaine_tentative": delivery.prochaine_tentative if delivery.statut == PENDING else None,
        "dernier_statut_http": delivery.dernier_statut_http,
        "derniere_erreur": delivery.derniere_erreur,
        "erreurs": delivery.erreurs or [],
        "livre_le": delivery.livre_le,
        "cree_le": delivery.cree_le,
    }


DeliveryStatus = Annotated[
    Literal["en_attente", "livre", "echec", "abandonne"] | None,
    Query(description="Seulement les livraisons de ce statut."),
]


@router.get(
    "/{abonnement_id}/livraisons",
    response_model=Livraisons,
    summary="Les livraisons d'un abonnement, les plus récentes d'abord (échecs compris)",
    responses=_ONE,
)
def list_deliveries(
    abonnement_id: SubscriptionId,
    database: DatabaseDep,
    principal: SubscriberDep,
    params: Annotated[Any, Depends(pagination.params_of(Livraisons))],
    statut: DeliveryStatus = None,
) -> Any:
    with database.read() as session:
        if repository.get(session, abonnement_id, principal.organisation_id) is None:
            raise _not_found()
        found = repository.deliveries(
            session,
            abonnement_id,
            after=pagination.number(params),
            limit=pagination.size(params) + 1,
            statut=statut,
        )
    return pagination.from_rows(Livraisons, params, found, lambda d: d.id, _delivery_wire)


@router.post(
    "/{abonnement_id}/livraisons/{livraison_id}/relivrer",
    status_code=202,
    response_model=Livraison,
    summary="Relivrer un événement (même webhook-id), tout de suite",
    responses=_ONE,
)
def redeliver(
    abonnement_id: SubscriptionId,
    livraison_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    database: DatabaseDep,
    principal: SubscriberDep,
) -> Any:
    now = _now()
    with database.write() as session:
        if repository.get(session, abonnement_id, principal.organisation_id) is None:
            raise _not_found()
        found = repository.delivery(session, abonnement_id, livraison_id)
        if found is None:
            raise NotFound("Livraison introuvable pour cet abonnement.")
        return _requeued(found, now)


def _requeued(delivery: Any, now: datetime) -> dict[str, Any]:
    """Queue a delivery again at once, with its attempts reset (same webhook-id)."""
    delivery.statut, delivery.tentatives, delivery.bail = PENDING, 0, None
    delivery.prochaine_tentative = now
    return _delivery_wire(delivery)


def _now() -> datetime:
    return datetime.now(UTC)


class LivraisonOperateur(Livraison):
    abonnement_id: str
    organisation_id: str


LivraisonsOperateur = page_of(
    LivraisonOperateur,
    name="LivraisonsOperateur",
    description="Les livraisons, les plus récentes d'abord.",
)


@admin_router.get(
    "",
    response_model=LivraisonsOperateur,
    summary="Les livraisons aux abonnés des organisations de vos territoires (échecs compris)",
    responses={
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Pas un opérateur."},
    },
)
def operator_deliveries(
    database: DatabaseDep,
    principal: OperatorDep,
    params: Annotated[Any, Depends(pagination.params_of(LivraisonsOperateur))],
    statut: DeliveryStatus = None,
) -> Any:
    with database.read() as session:
        found = repository.deliveries_of_territories(
            session,
            principal.territoires,
            after=pagination.number(params),
            limit=pagination.size(params) + 1,
            statut=statut,
        )
    return pagination.from_rows(
        LivraisonsOperateur,
        params,
        found,
        lambda row: row[0].id,
        lambda row: (
            _delivery_wire(row[0])
            | {"abonnement_id": row[0].abonnement_id, "organisation_id": row[1]}
        ),
    )


@admin_router.post(
    "/{livraison_id}/relivrer",
    status_code=202,
    response_model=Livraison,
    summary="Relivrer un événement à un abonné d'une organisation de vos territoires",
    responses={
        401: {"description": "Jeton absent ou invalide."},
        403: {"description": "Pas un opérateur."},
        404: {"description": "Livraison introuvable dans vos territoires."},
    },
)
def operator_redeliver(
    livraison_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    database: DatabaseDep,
    principal: OperatorDep,
) -> Any:
    now = _now()
    with database.write() as session:
        found = repository.delivery_of_territories(session, livraison_id, principal.territoires)
        if found is None:
            raise NotFound("Livraison introuvable dans vos territoires.")
        return _requeued(found, now)
