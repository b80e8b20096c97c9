"""The body of a webhook, as built from an outbox row, as published
(``openapi/schemas/sortants-1/webhook.json``) and as the worker checks it before it is sent:
what changed, and the changed sections only for a subscription that embeds them; and the
event handed to a ``deliver`` connector."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from connectors import ChangeEvent
from gateway.storage.tables import Delivery
from referential import CodeDepartement, Horodatage, OutgoingBody
from referential.models import Section

CarnetId = Annotated[
    str, Field(min_length=1, max_length=36, description="Identifiant du carnet dans la passerelle.")
]
Version = Annotated[int, Field(ge=1, description="Version du carnet après le changement.")]
Sections = Annotated[
    list[Section], Field(description="Les volets du carnet que le changement a modifiés (triés).")
]


class CarnetInclus(BaseModel):
    """Les volets modifiés, tels que le carnet les tient à la livraison, projetés sur les
    catégories que l'organisation abonnée peut exporter (abonnement avec inclure_sections) ;
    un volet dont rien n'est exportable est absent."""

    model_config = ConfigDict(extra="forbid", strict=True)

    version: Annotated[int, Field(ge=1, description="Version du carnet lue pour ces volets.")]
    version_referentiel: Annotated[
        str,
        Field(
            pattern=r"^[0-9]{4}\.[0-9]+$",
            description=(
                "Version du référentiel de ces volets : chacun est une instance du schéma publié "
                "urn:carnet-de-bord:schemas:<version_referentiel>:<volet> (pour un volet en liste "
                "— axes, evenements, rendez_vous — chaque élément)."
            ),
        ),
    ]
    sections: Annotated[
        dict[Section, Any], Field(description="Chaque volet joint, sous son nom (personne, …).")
    ]


class DonneesChangement(BaseModel):
    """Ce qui a changé : le carnet, sa version, ses volets modifiés."""

    model_config = ConfigDict(extra="forbid", strict=True)

    carnet_id: CarnetId
    version: Version
    territoire: CodeDepartement
    sections: Sections
    # Absent rather than null: the schema does not allow null, nor does the check.
    carnet: CarnetInclus | SkipJsonSchema[None] = Field(
        default=None, description="Seulement pour un abonnement avec inclure_sections."
    )

    @field_validator("carnet")
    @classmethod
    def _absent_not_null(cls, value: CarnetInclus | None) -> CarnetInclus:
        if value is None:
            raise PydanticCustomError("type_invalide", "carnet : absent ou un objet, pas null.")
        return value


class DonneesBattement(BaseModel):
    """Un battement ne porte rien."""

    model_config = ConfigDict(extra="forbid", strict=True)


class WebhookChangement(BaseModel):
    """Un carnet créé ou modifié, ou une demande de rattachement à son groupe de suivi faite
    ou décidée : le destinataire lit le carnet (ou les demandes) avec son propre jeton."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal[
        "carnet.cree", "carnet.modifie", "carnet.rattachement_demande", "carnet.rattachement_decide"
    ]
    horodatage: Horodatage
    donnees: DonneesChangement


class WebhookBattement(BaseModel):
    """Un signe de vie, au moins à l'intervalle réglé, pour distinguer le silence d'une panne."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["battement"]
    horodatage: Horodatage
    donnees: DonneesBattement


WEBHOOK = OutgoingBody(
    "webhook",
    Annotated[WebhookChangement | WebhookBattement, Field(discriminator="type")],
    description=(
        "Corps d'un webhook (POST signé selon Standard Webhooks : en-têtes webhook-id, "
        "webhook-timestamp, webhook-signature). Aucune donnée personnelle : le destinataire lit "
        "le carnet avec son propre jeton. Vérifié par la passerelle avant chaque envoi."
    ),
)


def body_of(delivery: Delivery, carnet: dict[str, Any] | None = None) -> bytes:
    """The webhook body: what changed; no personal data (the receiver reads the notebook with
    its own token), unless the subscription embeds the changed sections (``carnet``)."""
    event = _event(delivery)
    if carnet is not None:
        event["donnees"]["carnet"] = carnet
    return orjson.dumps(event)


def _event(delivery: Delivery) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if delivery.carnet_id is not None:
        data = {
            "carnet_id": delivery.carnet_id,
            "version": delivery.version,
            "territoire": delivery.territoire,
            "sections": delivery.sections,
        }
    return {
        "type": delivery.type,
        "horodatage": delivery.horodatage.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "donnees": data,
    }


def change_event(delivery: Delivery) -> ChangeEvent:
    """The event handed to a ``deliver`` connector: the webhook's fields, the same id."""
    assert delivery.carnet_id is not None
    assert delivery.version is not None
    event = _event(delivery)
    return ChangeEvent(
        carnet_id=delivery.carnet_id,
        version=delivery.version,
        sections=tuple(delivery.sections),
        body={
            "evenement_id": delivery.evenement_id,
            "type": delivery.type,
            "horodatage": event["horodatage"],
            "territoire": delivery.territoire,
        },
    )
