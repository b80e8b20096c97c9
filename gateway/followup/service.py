"""The follow-up group and join requests: the recorded relationships that make a notebook
part of an organisation's need to know.

- The département (the territorial mission over its notebooks) designates members and the
  referent structure (basis ``mission_territoriale``); an orientation decision it records
  designates the referent too (basis ``orientation``, see :mod:`gateway.notebooks.service`).
- A partner that discovered a notebook asks to join (``rattachements``); the referent
  structure or the département accepts or refuses; a territory may accept some actor kinds
  automatically (configuration, journaled as such). While pending, nothing is read or written.
- A member may leave; the département may end any membership.

Every change is shown in the notebook (its ``accompagnement`` section, as the gateway's own
items), so it is versioned, journaled and pushed like any other change. The request handler
owns the transaction; this module never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from gateway.errors import ProblemError
from gateway.followup import membership
from gateway.followup.membership import Designation
from gateway.habilitation.guard import Guard
from gateway.notebooks.errors import NotebookNotFound
from gateway.notebooks.service import NotebookService
from gateway.storage import Session, agents, notebooks
from gateway.storage import followup as repository
from gateway.storage.followup import Member
from gateway.storage.notebooks import StoredNotebook
from gateway.storage.tables import FollowUpMember, JoinRequest
from gateway.subscriptions import outbox
from gateway.subscriptions.outbox import JOIN_DECIDED, JOIN_REQUESTED

GROUP_ACTION, JOIN_ACTION = "groupe_suivi", "rattachement"


class DesignationReserved(ProblemError):
    status = 403
    code = "designation_reservee"
    title = "Seul le département du carnet désigne les membres du groupe de suivi et son référent."


class DecisionReserved(ProblemError):
    status = 403
    code = "decision_reservee"
    title = "Seuls la structure référente du carnet et son département décident d'un rattachement."


class InvalidMember(ProblemError):
    status = 422
    code = "organisation_invalide"
    title = "Cette organisation ne peut pas rejoindre le groupe de suivi de ce carnet."


class AlreadyMember(ProblemError):
    status = 409
    code = "deja_membre"
    title = "Votre organisation suit déjà ce carnet."


class JoinNotNeeded(ProblemError):
    status = 409
    code = "rattachement_inutile"
    title = "Votre type d'acteur accède aux carnets de ses territoires sans rattachement."


class JoinPending(ProblemError):
    status = 409
    code = "rattachement_en_attente"
    title = "Une demande de rattachement de votre organisation attend déjà sa décision."


class AlreadyDecided(ProblemError):
    status = 409
    code = "rattachement_deja_decide"
    title = "Cette demande de rattachement a déjà été décidée."


class MemberNotFound(ProblemError):
    status = 404
    code = "membre_introuvable"
    title = "Membre introuvable dans le groupe de suivi de ce carnet."


class RequestNotFound(ProblemError):
    status = 404
    code = "rattachement_introuvable"
    title = "Demande de rattachement introuvable pour ce carnet."


class MemberEnded(ProblemError):
    status = 409
    code = "membre_deja_sorti"
    title = "Cette appartenance au groupe de suivi a déjà pris fin."


def _now() -> datetime:
    return datetime.now(UTC)


class FollowUpService:
    def __init__(
        self,
        session: Session,
        guard: Guard,
        notebooks_service: NotebookService,
        *,
        automatic: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.session = session
        self.guard = guard
        self.principal = guard.principal
        self.notebooks = notebooks_service
        #: Territory → the actor kinds whose join requests are accepted automatically.
        self.automatic = automatic or {}

    # -- access ----------------------------------------------------------------------------------

    def _notebook(self, carnet_id: str, action: str) -> tuple[StoredNotebook, bool]:
        """The notebook, locked (join decisions and designations are serialised with every
        write to it), and whether the caller knows it (need to know); 404 outside the caller's
        territories."""
        row = notebooks.by_id_for_update(self.session, carnet_id)
        if row is None or row.territoire not in self.principal.territoires:
            raise self._not_found(action, carnet_id)
        member = notebooks.linked(self.session, carnet_id, self.principal.organisation_id)
        return row, self.guard.may_touch(row.territoire, member)

    def _not_found(self, action: str, carnet_id: str) -> NotebookNotFound:
        error = NotebookNotFound()
        error.records.append(self.guard.refusal(action, carnet_id))
        return error

    def _decides(self, row: StoredNotebook) -> bool:
        """The département of the notebook, or its referent structure."""
        if self.guard.steers(row.territoire):
            return True
        referent = repository.current_referent(self.session, row.id)
        return referent is not None and referent.organisation_id == self.principal.organisation_id

    # -- the group ---------------------------------------------------------------------------

    def group(self, carnet_id: str, *, history: bool) -> list[Member]:
        """The follow-up group, for a caller with the need to know the notebook (journaled)."""
        territoire = notebooks.territory_of(self.session, carnet_id)
        member = notebooks.linked(self.session, carnet_id, self.principal.organisation_id)
        if territoire is None or not self.guard.may_touch(territoire, member):
            raise self._not_found(GROUP_ACTION, carnet_id)
        notebooks.record_access(
            self.session, self.guard.entry(GROUP_ACTION, carnet_id, ["accompagnement"], "servi")
        )
        return repository.members(self.session, carnet_id, current_only=not history)

    def designate(
        self, carnet_id: str, organisation_id: str, role: str, agent_id: str | None = None
    ) -> Designation:
        """The département makes an organisation a member, or the referent structure (the
        previous referent stays a member)."""
        row, known = self._notebook(carnet_id, GROUP_ACTION)
        if not self.guard.steers(row.territoire):
            if known:
                raise DesignationReserved()
            raise self._not_found(GROUP_ACTION, carnet_id)
        if not membership.may_join(
            self.session, self.guard.matrix, row.territoire, organisation_id
        ):
            raise InvalidMember(
                errors=[
                    {
                        "pointer": "/organisation_id",
                        "code": "organisation_invalide",
                        "message": (
                            "Organisation inconnue, inactive, hors du territoire du carnet, ou "
                            "d'un type d'acteur qui n'accompagne pas de personnes."
                        ),
                    }
                ]
            )
        if agent_id is not None and (
            role != repository.REFERENT
            or agents.active_of(self.session, agent_id, organisation_id) is None
        ):
            raise InvalidMember(
                errors=[
                    {
                        "pointer": "/agent_id",
                        "code": "agent_invalide",
                        "message": (
                            "Un agent référent se désigne avec le rôle referent, parmi les "
                            "agents actifs de la structure référente."
                        ),
                    }
                ]
            )
        designation = membership.designate(
            self.session,
            carnet_id=row.id,
            organisation_id=organisation_id,
            role=role,
            base=repository.TERRITORIAL,
            at=_now(),
            client_id=self.principal.client_id,
            agent_id=agent_id,
        )
        if designation.created:
            self._show(row.id, (GROUP_ACTION, "designation"))
        else:
            notebooks.record_access(
                self.session,
                self.guard.entry(GROUP_ACTION, row.id, ["accompagnement"], "inchange"),
            )
        return designation

    def end(self, carnet_id: str, member_id: str) -> FollowUpMember:
        """End a membership: the département may end any, a member its own."""
        row, known = self._notebook(carnet_id, GROUP_ACTION)
        member = repository.member_by_id(self.session, carnet_id, member_id)
        own = member is not None and member.organisation_id == self.principal.organisation_id
        if not (self.guard.steers(row.territoire) or (own and known)):
            if known:
                raise DesignationReserved()
            raise self._not_found(GROUP_ACTION, carnet_id)
        if member is None:
            raise MemberNotFound()
        if member.jusqu_au is not None or not repository.end_member(self.session, member, _now()):
            raise MemberEnded()
        self._show(row.id, (GROUP_ACTION, "fin"))
        return member

    def _add(
        self, carnet_id: str, organisation_id: str, role: str, base: str, at: datetime
    ) -> FollowUpMember:
        return repository.add_member(
            self.session,
            carnet_id=carnet_id,
            organisation_id=organisation_id,
            role=role,
            base=base,
            at=at,
            client_id=self.principal.client_id,
        )

    def _show(self, carnet_id: str, journal: tuple[str, str]) -> None:
        """Show the group as recorded now in the notebook (versioned, journaled, pushed)."""
        members = repository.members(self.session, carnet_id, current_only=False)
        self.notebooks.record_group(carnet_id, members, journal=journal)

    # -- join requests -----------------------------------------------------------------------

    def request_join(self, carnet_id: str, motif: str) -> JoinRequest:
        """Ask to join the follow-up group of a notebook of the caller's territories (found by
        identification); accepted at once where the territory says so for the caller's kind."""
        row, known = self._notebook(carnet_id, JOIN_ACTION)
        if self.guard.actor.portee != "relation":
            raise JoinNotNeeded()
        if known:
            raise AlreadyMember()
        pending = repository.pending_request(
            self.session, carnet_id, self.principal.organisation_id
        )
        if pending is not None:
            raise JoinPending(demande=pending.id)
        now = _now()
        request = JoinRequest(
            id=str(uuid.uuid4()),
            carnet_id=carnet_id,
            organisation_id=self.principal.organisation_id,
            client_id=self.principal.client_id,
            motif=motif,
            statut=repository.PENDING,
            demande_le=now,
        )
        repository.add_request(self.session, request)
        self._event(row, JOIN_REQUESTED, now)
        if self.principal.type_acteur in self.automatic.get(row.territoire, ()):
            repository.decide(
                self.session,
                request,
                statut=repository.GRANTED,
                at=now,
                organisation_id=None,
                motif="Acceptation automatique configurée pour le territoire.",
                automatic=True,
            )
            self._add(
                carnet_id,
                self.principal.organisation_id,
                repository.MEMBER,
                repository.ACCEPTED,
                now,
            )
            self._show(carnet_id, (JOIN_ACTION, "accepte_automatiquement"))
            self._event(row, JOIN_DECIDED, now)
        else:
            notebooks.record_access(
                self.session, self.guard.entry(JOIN_ACTION, carnet_id, [], "demande")
            )
        return request

    def requests(self, carnet_id: str) -> list[JoinRequest]:
        """Who decides sees every request of the notebook; a member or a requester, its own
        (none for a member that never asked); anyone else: 404."""
        row, known = self._notebook(carnet_id, JOIN_ACTION)
        everyone = self._decides(row)
        found = repository.requests_of(
            self.session, carnet_id, None if everyone else self.principal.organisation_id
        )
        if not (everyone or known or found):
            raise self._not_found(JOIN_ACTION, carnet_id)
        notebooks.record_access(self.session, self.guard.entry(JOIN_ACTION, carnet_id, [], "servi"))
        return found

    def decide(
        self, carnet_id: str, request_id: str, accepted: bool, motif: str | None
    ) -> JoinRequest:
        """Accept or refuse a pending request: the referent structure or the département; one
        decision wins, the other is a 409."""
        row, known = self._notebook(carnet_id, JOIN_ACTION)
        request = repository.request_by_id(self.session, carnet_id, request_id)
        if not self._decides(row):
            if known or (
                request is not None and request.organisation_id == self.principal.organisation_id
            ):
                raise DecisionReserved()
            raise self._not_found(JOIN_ACTION, carnet_id)
        if request is None:
            raise RequestNotFound()
        now = _now()
        statut = repository.GRANTED if accepted else repository.REFUSED
        if request.statut != repository.PENDING or not repository.decide(
            self.session,
            request,
            statut=statut,
            at=now,
            organisation_id=self.principal.organisation_id,
            motif=motif,
        ):
            raise AlreadyDecided()
        if accepted and not membership.may_join(
            self.session, self.guard.matrix, row.territoire, request.organisation_id
        ):
            # Disabled, or no longer of the notebook's territory, since it asked.
            raise InvalidMember()
        if accepted:
            if repository.membership(self.session, carnet_id, request.organisation_id) is None:
                self._add(
                    carnet_id, request.organisation_id, repository.MEMBER, repository.ACCEPTED, now
                )
            self._show(carnet_id, (JOIN_ACTION, "accepte"))
        else:
            notebooks.record_access(
                self.session, self.guard.entry(JOIN_ACTION, carnet_id, [], "refuse")
            )
        self._event(row, JOIN_DECIDED, now)
        return request

    def _event(self, row: StoredNotebook, kind: str, at: datetime) -> None:
        """Push a join event to the subscribers who know the notebook (no personal data: they
        read the requests with their own token)."""
        outbox.enqueue(
            self.session,
            self.guard.matrix,
            carnet_id=row.id,
            territoire=row.territoire,
            version=notebooks.version_of(self.session, row.id),
            sections=["accompagnement"],
            categories=["accompagnement"],
            created=False,
            at=at,
            kind=kind,
        )
