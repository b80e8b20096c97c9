"""The body sent to the département IS (``carnet.evenement/1``, ``docs/connecteurs.md`` §7), as
published (``openapi/schemas/sortants-1/departement_si_evenement.json``) and as the connector
checks it before it is sent."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from referential import CodeDepartement, Horodatage, OutgoingBody
from referential.models import Section

SCHEMA = "carnet.evenement/1"


class Carnet(BaseModel):
    """Le carnet qui a changé : le SI le lit avec son propre jeton."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: Annotated[
        str,
        Field(min_length=1, max_length=36, description="Identifiant du carnet dans la passerelle."),
    ]
    version: Annotated[int, Field(ge=1, description="Version du carnet après le changement.")]
    territoire: CodeDepartement


class EvenementCarnet(BaseModel):
    """Un changement de carnet poussé au SI départemental (aucune donnée personnelle)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    schema_: Annotated[
        Literal["carnet.evenement/1"],
        Field(alias="schema", description="Version de la forme de l'événement."),
    ]
    id: Annotated[
        str,
        Field(
            pattern=r"^msg_[0-9a-f]{32}$",
            description="Identifiant de l'événement, stable d'une tentative à l'autre (le SI dédoublonne dessus).",
        ),
    ]
    type: Literal["carnet.cree", "carnet.modifie"]
    horodatage: Horodatage
    carnet: Carnet
    sections: Annotated[
        list[Section], Field(description="Les volets du carnet que le changement a modifiés.")
    ]


EVENEMENT = OutgoingBody(
    "departement_si_evenement",
    EvenementCarnet,
    description=(
        "Corps d'un événement poussé par le connecteur departement_si "
        "(POST {BASE_URL}{EVENTS_PATH}, en-tête Idempotency-Key égal à id). Vérifié par le "
        "connecteur avant chaque envoi."
    ),
)
