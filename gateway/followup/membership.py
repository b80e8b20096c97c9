"""Changes of the follow-up group as data: who may join, designation of members and of the
referent structure. No access decision here (see :mod:`gateway.followup.service`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.habilitation.matrix import Matrix
from gateway.storage import Session
from gateway.storage import followup as repository
from gateway.storage.tables import FollowUpMember


@dataclass(slots=True)
class Designation:
    member: FollowUpMember
    #: False when the organisation already held this role (nothing changed).
    created: bool


def may_join(session: Session, matrix: Matrix, territoire: str, organisation_id: str) -> bool:
    """Can the organisation be a member of a notebook of ``territoire``: registered, active,
    of that territory, and of an actor kind that accompanies persons?"""
    organisation = repository.organisation(session, organisation_id)
    if organisation is None or not organisation.actif:
        return False
    actor = matrix.actor(organisation.type_acteur)
    return territoire in organisation.territoires and actor.portee in ("relation", "territoire")


def designate(
    session: Session,
    *,
    carnet_id: str,
    organisation_id: str,
    role: str,
    base: str,
    at: datetime,
    client_id: str,
    agent_id: str | None = None,
) -> Designation:
    """Make the organisation a member with ``role`` (and, for the referent structure, its
    referent agent ``agent_id``); its current membership otherwise ends; a new referent
    structure leaves the previous one a member."""
    current = repository.membership(session, carnet_id, organisation_id)
    if current is not None and current.role == role and current.agent_id == agent_id:
        return Designation(current, created=False)
    if current is not None:
        repository.end_member(session, current, at)
    if role == repository.REFERENT:
        previous = repository.current_referent(session, carnet_id)
        if previous is not None:
            repository.end_member(session, previous, at)
            repository.add_member(
                session,
                carnet_id=carnet_id,
                organisation_id=previous.organisation_id,
                role=repository.MEMBER,
                base=previous.base,
                at=at,
                client_id=client_id,
            )
    member = repository.add_member(
        session,
        carnet_id=carnet_id,
        organisation_id=organisation_id,
        role=role,
        base=base,
        at=at,
        client_id=client_id,
        agent_id=agent_id,
    )
    return Designation(member, created=True)
