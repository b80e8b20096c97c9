"""Every query on follow-up groups, join requests and failed identifications."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from gateway.storage.tables import (
    FollowUpMember,
    IdentificationFailures,
    JoinRequest,
    Organisation,
)

REFERENT, MEMBER = "referent", "membre"
ROLES = (REFERENT, MEMBER)
#: Why a membership exists.
ORIENTATION, TERRITORIAL, ACCEPTED, CREATION = (
    "orientation",
    "mission_territoriale",
    "rattachement_accepte",
    "creation",
)
PENDING, GRANTED, REFUSED = "en_attente", "accepte", "refuse"


@dataclass(frozen=True, slots=True)
class Member:
    """A membership with what is shown of its organisation."""

    row: FollowUpMember
    nom: str
    type_acteur: str
    siret: str | None
    contact: str | None


def members(session: Session, carnet_id: str, *, current_only: bool = True) -> list[Member]:
    """The follow-up group of a notebook, oldest membership first."""
    statement = (
        sa_select(
            FollowUpMember,
            col(Organisation.nom),
            col(Organisation.type_acteur),
            col(Organisation.siret),
            col(Organisation.contact),
        )
        .join(Organisation, col(Organisation.id) == col(FollowUpMember.organisation_id))
        .where(col(FollowUpMember.carnet_id) == carnet_id)
    )
    if current_only:
        statement = statement.where(col(FollowUpMember.jusqu_au).is_(None))
    statement = statement.order_by(col(FollowUpMember.depuis), col(FollowUpMember.id))
    return [Member(*found) for found in session.execute(statement).all()]


def membership(session: Session, carnet_id: str, organisation_id: str) -> FollowUpMember | None:
    """The organisation's current membership of the notebook's group."""
    return session.exec(
        select(FollowUpMember).where(
            FollowUpMember.carnet_id == carnet_id,
            FollowUpMember.organisation_id == organisation_id,
            col(FollowUpMember.jusqu_au).is_(None),
        )
    ).first()


def member_by_id(session: Session, carnet_id: str, member_id: str) -> FollowUpMember | None:
    found = session.get(FollowUpMember, member_id)
    return found if found is not None and found.carnet_id == carnet_id else None


def current_referent(session: Session, carnet_id: str) -> FollowUpMember | None:
    return session.exec(
        select(FollowUpMember).where(
            FollowUpMember.carnet_id == carnet_id,
            FollowUpMember.role == REFERENT,
            col(FollowUpMember.jusqu_au).is_(None),
        )
    ).first()


def add_member(
    session: Session,
    *,
    carnet_id: str,
    organisation_id: str,
    role: str,
    base: str,
    at: datetime,
    client_id: str | None,
    agent_id: str | None = None,
) -> FollowUpMember:
    member = FollowUpMember(
        id=str(uuid.uuid4()),
        carnet_id=carnet_id,
        organisation_id=organisation_id,
        role=role,
        base=base,
        depuis=at,
        client_id=client_id,
        agent_id=agent_id,
    )
    session.add(member)
    session.flush()
    return member


def end_member(session: Session, member: FollowUpMember, at: datetime) -> bool:
    """End a current membership; False when another transaction ended it first."""
    ended = session.execute(
        update(FollowUpMember)
        .where(col(FollowUpMember.id) == member.id, col(FollowUpMember.jusqu_au).is_(None))
        .values(jusqu_au=at)
    )
    session.expire(member)
    return bool(ended.rowcount)  # type: ignore[attr-defined]


def organisation(session: Session, organisation_id: str) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def organisation_by_siret(session: Session, siret: str) -> Organisation | None:
    return session.exec(
        select(Organisation).where(Organisation.siret == siret, col(Organisation.actif))
    ).first()


# -- join requests -------------------------------------------------------------------------------


def pending_request(session: Session, carnet_id: str, organisation_id: str) -> JoinRequest | None:
    return session.exec(
        select(JoinRequest).where(
            JoinRequest.carnet_id == carnet_id,
            JoinRequest.organisation_id == organisation_id,
            JoinRequest.statut == PENDING,
        )
    ).first()


def add_request(session: Session, request: JoinRequest) -> None:
    session.add(request)
    session.flush()


def request_by_id(session: Session, carnet_id: str, request_id: str) -> JoinRequest | None:
    found = session.get(JoinRequest, request_id)
    return found if found is not None and found.carnet_id == carnet_id else None


def requests_of(
    session: Session, carnet_id: str, organisation_id: str | None = None
) -> list[JoinRequest]:
    """The join requests of a notebook (of one organisation, when given), oldest first."""
    statement = select(JoinRequest).where(JoinRequest.carnet_id == carnet_id)
    if organisation_id is not None:
        statement = statement.where(JoinRequest.organisation_id == organisation_id)
    return list(session.exec(statement.order_by(col(JoinRequest.demande_le), col(JoinRequest.id))))


def decide(
    session: Session,
    request: JoinRequest,
    *,
    statut: str,
    at: datetime,
    organisation_id: str | None,
    motif: str | None,
    automatic: bool = False,
) -> bool:
    """Record the decision on a pending request; False when it was decided meanwhile (one
    decision wins: the update is conditional on the pending state)."""
    decided = session.execute(
        update(JoinRequest)
        .where(col(JoinRequest.id) == request.id, col(JoinRequest.statut) == PENDING)
        .values(
            statut=statut,
            decide_le=at,
            decideur_organisation_id=organisation_id,
            motif_decision=motif,
            automatique=automatic,
        )
    )
    session.expire(request)
    return bool(decided.rowcount)  # type: ignore[attr-defined]


# -- failed identifications ----------------------------------------------------------------------


def failures(session: Session, client_id: str, since: datetime) -> tuple[int, datetime | None]:
    """The client's failed identifications in the window that started after ``since``, and
    when that window started."""
    table = IdentificationFailures.__table__  # type: ignore[attr-defined]
    found = session.execute(
        sa_select(table.c.nombre, table.c.fenetre).where(
            table.c.client_id == client_id, table.c.fenetre > since
        )
    ).first()
    return (0, None) if found is None else (int(found[0]), found[1])


def count_failure(session: Session, client_id: str, at: datetime, since: datetime) -> None:
    """Count one more failed identification (in a new window when the last one started before
    ``since``), in one statement whatever concurrent requests do."""
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = IdentificationFailures.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(table).values(client_id=client_id, fenetre=at, nombre=1)
    expired = table.c.fenetre <= since
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.client_id],
        set_={
            "fenetre": case((expired, statement.excluded.fenetre), else_=table.c.fenetre),
            "nombre": case((expired, 1), else_=table.c.nombre + 1),
        },
    )
    session.execute(statement)
