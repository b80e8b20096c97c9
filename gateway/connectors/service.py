"""Pulling one notebook through a connector, and submitting what it returns as its own source.

The connector's contribution goes through the notebook service like any partner's write
(validation, habilitation of the connector's client, merge with per-source ownership, version,
change log, journal), in one transaction with the pull's state and the connector's health. The
upstream payload itself is never stored: only the hash of its canonical JSON.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import orjson

from connectors import (
    Agent,
    Capability,
    ConnectorError,
    Notice,
    Pull,
    PullOutcome,
    PullRequest,
    PullResult,
)
from gateway.auth.principal import Principal, principal_of
from gateway.connectors.errors import (
    CapabilityMissing,
    ConnectorMisconfigured,
    ConnectorNotEnabled,
    ConnectorUnknown,
    ContributionRefused,
    ContributionRejected,
    UpstreamProblem,
)
from gateway.connectors.loader import Connectors, EnabledConnector
from gateway.errors import ProblemError
from gateway.habilitation.guard import Guard
from gateway.habilitation.matrix import Matrix
from gateway.notebooks.errors import InvalidPayload, NotebookNotFound
from gateway.notebooks.identity import partner_identifiers
from gateway.notebooks.service import NotebookService
from gateway.notebooks.states import StateCache
from gateway.storage import Session, notebooks, organisations
from gateway.storage import connectors as repository
from gateway.storage.database import Database
from gateway.storage.tables import ConnectorPull, NotebookRow
from referential import KnownSections, Validator

logger = logging.getLogger(__name__)
ACTION = "synchronisation"
#: Outcomes that say nothing was found for the person (their own, shorter, freshness window).
NOT_FOUND = frozenset({PullOutcome.NOT_FOUND, PullOutcome.AMBIGUOUS, PullOutcome.UNCERTIFIED})
FAILED = "echec"
APPLIED = "applique"
UNCHANGED = "inchange"
RECENT = "recent"


@dataclass(frozen=True, slots=True)
class Prepared:
    entry: EnabledConnector
    row: NotebookRow
    state: ConnectorPull | None
    #: The rights of the connector's client, which writes.
    guard: Guard
    #: Who journals the access: the caller who asked, or the connector's client in a batch.
    journal: Guard
    #: The notebook's ``personne`` section as its view shows it (its identifiers).
    personne: dict[str, Any]


@dataclass(slots=True)
class SyncResult:
    slug: str
    carnet_id: str
    resultat: str
    version: int
    ecriture: dict[str, Any] | None = None
    notices: list[Notice] = field(default_factory=list)
    unknown_codes: int = 0
    unknown_fields: int = 0
    non_confirme_depuis: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "connecteur": self.slug,
            "carnet_id": self.carnet_id,
            "resultat": self.resultat,
            "version": self.version,
            "ecriture": self.ecriture,
            "avertissements": [n.to_wire() for n in self.notices],
            "codes_inconnus": self.unknown_codes,
            "champs_inconnus": self.unknown_fields,
            "non_confirme_depuis": _iso(self.non_confirme_depuis),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SyncService:
    def __init__(
        self,
        database: Database,
        validator: Validator,
        matrix: Matrix,
        connectors: Connectors,
        *,
        interval: timedelta,
        not_found_interval: timedelta,
        states: StateCache | None = None,
        known: KnownSections | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.validator = validator
        self.matrix = matrix
        self.connectors = connectors
        self.interval = interval
        self.not_found_interval = not_found_interval
        self.states = states
        self.known = known
        self.clock = clock

    def enabled(self, slug: str) -> EnabledConnector:
        entry = self.connectors.get(slug)
        if entry is None:
            raise ConnectorUnknown()
        if Capability.PULL not in entry.connector.capabilities():
            raise CapabilityMissing()
        return entry

    async def synchronise(
        self,
        slug: str,
        carnet_id: str,
        *,
        trigger: Guard | None,
        agent: Agent,
        force: bool = False,
    ) -> SyncResult:
        """Pull one notebook. ``trigger``: the caller who asked (its need to know applies);
        None for a batch run, which journals the access as the connector's client."""
        prepared = await self.prepare(slug, carnet_id, trigger)
        return await self.run(prepared, agent=agent, force=force)

    async def prepare(self, slug: str, carnet_id: str, trigger: Guard | None) -> Prepared:
        """The checks made before anything is asked of the partner: the connector is enabled
        for the notebook's territory, the caller needs to know the notebook, the connector's
        client is valid."""
        entry = self.enabled(slug)
        row, state, personne = await anyio.to_thread.run_sync(self._read, slug, carnet_id, trigger)
        if row.territoire not in entry.clients:
            raise ConnectorNotEnabled()
        guard = await anyio.to_thread.run_sync(self._connector_guard, entry, row.territoire)
        return Prepared(entry, row, state, guard, trigger or guard, personne)

    async def run(self, prepared: Prepared, *, agent: Agent, force: bool = False) -> SyncResult:
        entry, row, state, guard, journal = (
            prepared.entry,
            prepared.row,
            prepared.state,
            prepared.guard,
            prepared.journal,
        )
        slug = entry.connector.slug
        now = self.clock()
        if not force and self._fresh(state, now):
            assert state is not None
            return await anyio.to_thread.run_sync(
                self._record_recent, slug, row, state, journal, agent
            )
        connector = entry.connector
        assert isinstance(connector, Pull)
        personne = prepared.personne
        request = PullRequest(
            carnet_id=row.id,
            territoire=row.territoire,
            nir=row.nir13,
            date_naissance=row.date_naissance,
            agent=agent,
            identifiants=partner_identifiers(personne.get("identifiants")),
        )
        try:
            pulled = await connector.pull(request)
        except ConnectorError as error:
            await anyio.to_thread.run_sync(
                self._record_failure, entry, row, state, journal, agent, error
            )
            raise UpstreamProblem(error) from None
        except Exception as error:
            # A defect of the connector: recorded as a failure and answered as the partner's
            # side failing (502), never a 500; the type says which, never the values it held.
            logger.error("connecteur %s en défaut : %s", slug, type(error).__name__)
            failure = ConnectorError("Le connecteur a échoué de façon inattendue.")
            await anyio.to_thread.run_sync(
                self._record_failure, entry, row, state, journal, agent, failure
            )
            raise UpstreamProblem(failure) from None
        return await anyio.to_thread.run_sync(
            self._apply, entry, row, state, guard, journal, agent, pulled
        )

    def status(self, slug: str, carnet_id: str, trigger: Guard) -> ConnectorPull | None:
        """The last pull of a notebook by a connector, for a caller who needs to know it
        (journaled)."""
        self.enabled(slug)
        _, state, _ = self._read(slug, carnet_id, trigger)
        with self.database.write() as session:
            notebooks.record_access(session, trigger.entry(ACTION, carnet_id, [], "consultation"))
        return state

    # -- steps -----------------------------------------------------------------------------------

    def _read(
        self, slug: str, carnet_id: str, trigger: Guard | None
    ) -> tuple[NotebookRow, ConnectorPull | None, dict[str, Any]]:
        personne = None
        with self.database.read() as session:
            row = repository.notebook(session, carnet_id)
            linked = bool(
                row is not None
                and trigger is not None
                and notebooks.linked(session, carnet_id, trigger.principal.organisation_id)
            )
            state = repository.pull_state(session, slug, carnet_id) if row else None
            if row is not None:
                personne = notebooks.stored_section(session, carnet_id, "personne")
        if row is None or (trigger is not None and not trigger.may_touch(row.territoire, linked)):
            error = NotebookNotFound()
            if trigger is not None:
                error.records.append(trigger.refusal(ACTION, carnet_id))
                with self.database.write() as session:
                    session.add_all(error.records)
            raise error
        return row, state, personne or {}

    def _connector_guard(self, entry: EnabledConnector, territoire: str) -> Guard:
        return connector_guard(self.database, self.matrix, entry, territoire)

    def _fresh(self, state: ConnectorPull | None, now: datetime) -> bool:
        if state is None or state.dernier_resultat in (FAILED, PullOutcome.INCOMPLETE):
            # After a failure, or once the notebook has what the partner needs: try again.
            return False
        window = self.not_found_interval if state.dernier_resultat in NOT_FOUND else self.interval
        last = _aware(state.derniere_tentative)
        return last is not None and now - last < window

    def _journal(
        self, session: Session, guard: Guard, carnet_id: str, resultat: str, agent: Agent
    ) -> None:
        # What a pull reads of the notebook and sends upstream: the person's identity, on
        # behalf of this agent (its identifier, never its name).
        entry = guard.entry(ACTION, carnet_id, ["identite"], resultat)
        entry["agent"] = agent.identifiant
        notebooks.record_access(session, entry)

    def _record_recent(
        self, slug: str, row: NotebookRow, state: ConnectorPull, journal: Guard, agent: Agent
    ) -> SyncResult:
        with self.database.write() as session:
            self._journal(session, journal, row.id, RECENT, agent)
        return SyncResult(
            slug=slug,
            carnet_id=row.id,
            resultat=RECENT,
            version=row.version,
            non_confirme_depuis=_aware(state.non_confirme_depuis),
        )

    def _record_failure(
        self,
        entry: EnabledConnector,
        row: NotebookRow,
        state: ConnectorPull | None,
        journal: Guard,
        agent: Agent,
        error: ConnectorError,
    ) -> None:
        now = self.clock()
        slug = entry.connector.slug
        with self.database.write() as session:
            repository.record_call(
                session,
                slug,
                at=now,
                error=error.code,
                unchanged=False,
                unknown_codes=0,
                circuit=entry.connector.circuit(),
            )
            repository.save_pull_state(
                session,
                ConnectorPull(
                    slug=slug,
                    carnet_id=row.id,
                    derniere_tentative=now,
                    derniere_reussite=None if state is None else _aware(state.derniere_reussite),
                    dernier_resultat=FAILED,
                    empreinte=None if state is None else state.empreinte,
                    non_confirme_depuis=None
                    if state is None
                    else _aware(state.non_confirme_depuis),
                ),
            )
            self._journal(session, journal, row.id, FAILED, agent)

    def _apply(
        self,
        entry: EnabledConnector,
        row: NotebookRow,
        state: ConnectorPull | None,
        guard: Guard,
        journal: Guard,
        agent: Agent,
        pulled: PullResult,
    ) -> SyncResult:
        slug = entry.connector.slug
        now = self.clock()
        result = SyncResult(
            slug=slug,
            carnet_id=row.id,
            resultat=str(pulled.outcome),
            version=row.version,
            notices=list(pulled.notices),
            unknown_codes=pulled.unknown_codes,
            unknown_fields=pulled.unknown_fields,
        )
        previous = None if state is None else state.empreinte
        vanished = None if state is None else _aware(state.non_confirme_depuis)
        fingerprint = previous
        contribution = None
        if pulled.outcome is PullOutcome.DOSSIER:
            vanished = None
            fingerprint = self._fingerprint(entry, pulled)
            if fingerprint is not None and fingerprint == previous:
                result.resultat = UNCHANGED
            else:
                contribution = pulled.contribution or {}
        elif pulled.outcome in (PullOutcome.NO_DOSSIER, PullOutcome.NOT_FOUND) and previous:
            # Absence is never deletion: what the source said is kept, marked unconfirmed.
            vanished = vanished or now
        result.non_confirme_depuis = vanished
        try:
            with self.database.write() as session:
                if contribution is not None:
                    diagnostic = notebooks.stored_section(session, row.id, "diagnostic")
                    body = self._body(diagnostic, guard.principal, contribution, now)
                    written = self._write(session, guard, row.id, body)
                    result.version = written.row.version
                    result.ecriture = written.outcome.to_wire()
                    result.resultat = APPLIED if written.outcome.changed else UNCHANGED
                repository.record_call(
                    session,
                    slug,
                    at=now,
                    error=None,
                    unchanged=result.resultat == UNCHANGED,
                    unknown_codes=pulled.unknown_codes,
                    unknown_fields=pulled.unknown_fields,
                    circuit=entry.connector.circuit(),
                )
                repository.save_pull_state(
                    session,
                    ConnectorPull(
                        slug=slug,
                        carnet_id=row.id,
                        derniere_tentative=now,
                        derniere_reussite=now,
                        dernier_resultat=str(pulled.outcome),
                        empreinte=fingerprint,
                        non_confirme_depuis=vanished,
                    ),
                )
                if journal is not guard or pulled.outcome is not PullOutcome.INCOMPLETE:
                    # A batch journals what left the gateway: nothing, for an incomplete identity.
                    self._journal(session, journal, row.id, result.resultat, agent)
        except InvalidPayload as error:
            rejected = _Rejected(ContributionRejected.title)
            self._record_failure(entry, row, state, journal, agent, rejected)
            raise ContributionRejected(errors=error.errors) from None
        except ProblemError as error:
            if error.records:
                with self.database.write() as session:
                    session.add_all(error.records)
            refused = _Refused(ContributionRefused.title)
            self._record_failure(entry, row, state, journal, agent, refused)
            raise ContributionRefused(f"Refus : {error.code}.", errors=error.errors) from None
        return result

    def _fingerprint(self, entry: EnabledConnector, pulled: PullResult) -> str | None:
        """What makes a pull unchanged: the same upstream dossier, mapped the same way (the
        connector's version, the referential's, the contribution it makes). A crosswalk or
        connector update maps an unchanged dossier again. The contribution's ``observe_le``
        is left out: it may be the time of the fetch."""
        if pulled.fingerprint is None:
            return None
        contribution = {k: v for k, v in (pulled.contribution or {}).items() if k != "observe_le"}
        canonical = orjson.dumps(
            {
                "amont": pulled.fingerprint,
                "connecteur": entry.connector.version,
                "referentiel": self.validator.version,
                "contribution": contribution,
            },
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(canonical).hexdigest()

    def _write(self, session: Session, guard: Guard, carnet_id: str, body: bytes) -> Any:
        service = NotebookService(
            session,
            self.validator,
            _Designated(guard),
            lock=self.database.lock,
            states=self.states,
            known=self.known,
            on_commit=self.database.on_commit,
        )
        return service.contribute(carnet_id, body, None)

    @staticmethod
    def _body(
        diagnostic: Any, principal: Principal, contribution: dict[str, Any], now: datetime
    ) -> bytes:
        """The connector's contribution, written to the notebook by its id: what the partner
        said, and nothing of the notebook's identity the partner did not say (sending it back
        would record it, and the identifiers the partner holds authority over, as the
        partner's own). ``diagnostic``: the notebook's section as its view shows it."""
        body: dict[str, Any] = dict(contribution)
        observed = body.get("observe_le")
        stamp = now.isoformat().replace("+00:00", "Z")
        if not observed or _instant(observed) > now:
            body["observe_le"] = stamp
        held = _held_situations(diagnostic, principal.source)
        diagnostic = body.get("diagnostic")
        if diagnostic and diagnostic.get("situations"):
            # A closure only ends what this source holds: closing what it never said is noise.
            diagnostic["situations"] = [
                item
                for item in diagnostic["situations"]
                if not item.get("supprime") or item["code"] in held
            ]
        return orjson.dumps(body)


class _Designated(Guard):
    """The connector's client writing to the notebook its pull was asked for (by a caller
    with the need to know it, or by a batch over its territory): it writes within its
    territories without being a member of the follow-up group, and writing never makes it
    one (it gets no access of its own)."""

    def __init__(self, guard: Guard) -> None:
        super().__init__(guard.matrix, guard.principal, guard.purpose)

    def may_touch(self, territoire: str, linked: bool) -> bool:
        return territoire in self.principal.territoires

    def grants(self, referent: bool) -> frozenset[str]:
        """What the partner system holds about the person it records as it is, whoever the
        agent: no category is reserved to a referent agent for it."""
        return self.actor.reserve


def connector_guard(
    database: Database, matrix: Matrix, entry: EnabledConnector, territoire: str
) -> Guard:
    """The rights of the client the connector writes as in this territory."""
    connector = entry.connector
    rights = organisations.active_client(database, entry.clients[territoire])
    if (
        rights is None
        or rights.type_acteur != connector.type_acteur
        or territoire not in rights.territoires
    ):
        raise ConnectorMisconfigured()
    principal = principal_of(matrix, entry.clients[territoire], rights)
    return Guard(matrix, principal, connector.finalite)


class _Rejected(ConnectorError):
    code = ContributionRejected.code


class _Refused(ConnectorError):
    code = ContributionRefused.code


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _held_situations(diagnostic: Any, source: str) -> set[str]:
    situations = (diagnostic or {}).get("situations") or ()
    return {
        item["code"]
        for item in situations
        if (item.get("provenance") or {}).get("source") == source
    }
