"""The delivery worker: claims due deliveries from the outbox, pushes them signed (Standard
Webhooks), and records what came of it.

Several workers, on several machines, share one outbox. A claim is a short transaction: on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never claim the same row), then
the rows get a lease — a token and a next attempt one lease later — and the claim commits
before any HTTP call. A worker killed mid-delivery leaves its rows to be claimed again when the
lease ends: delivery is at least once (receivers deduplicate on ``webhook-id``). Each row's
lease is renewed, and committed, just before it is sent: a row whose lease ended during a long
pass (another worker claimed it) is skipped, not sent twice. The outcome is written only while
the lease is still the worker's own.

Retries follow the schedule of the Standard Webhooks reference implementations (5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h) with one more 10 h step, so that with ±20 % jitter on each delay
they still span more than 24 hours (30 to 45 hours); then the delivery is a dead letter (``echec``), listed and redeliverable. A 2xx acknowledges; a 410 Gone
disables the subscription; any other answer, a timeout or a refused connection retries. A 429
or 503 with ``Retry-After`` (seconds or an HTTP date) puts the next attempt no earlier than it
asks, within :data:`RETRY_AFTER_CAP` (a connector says it through its error's
``retry_after``).

A subscription URL the HTTP client refuses (a bad port or IDNA host, refused since at
creation) is a dead letter at once (``url_invalide``); any unexpected error on one delivery is
a failed attempt of that delivery alone (``erreur_livraison``), and the pass goes on.

The target's host is resolved at each delivery and the request goes to the address checked
(:mod:`gateway.subscriptions.addresses`): a name resolving to an internal address is refused
(``adresse_interne``, or ``nom_introuvable`` when it does not resolve) and retried like a
failed attempt. Connections are pooled per host name, never shared between two names at one
address: each name's certificate is checked on its own connection (``certificat_invalide``,
retried, when it does not hold).

Every body is checked against its published schema before it leaves (``WEBHOOK`` here, the
connector's own in its ``deliver``): one that departs from it is never sent, and the delivery
is a dead letter at once (``corps_non_conforme``) with the departures, pointer and code, in its
``erreurs``.

A subscription may target a ``deliver`` connector instead of a URL (``connecteur:<slug>``,
e.g. the département IS): the worker then calls the connector's ``deliver`` in place of the
webhook POST, on the same outbox with the same lease, retries and dead letter. The
subscription must be one of the client ``CARNET_CONNECTEURS`` names for the connector in the
notebook's territory (so the habilitation of that client filters what the connector receives);
any other is a dead letter (``connecteur_non_active``). A connector
error that retrying cannot cure (``retryable`` false) is a dead letter at once; each call counts
in the connector's health (``GET /v1/connecteurs``). Heartbeats are for webhook receivers: a
connector's are acknowledged without a call.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from connectors import (
    ConnectorError,
    Deliver,
    NonConformingBody,
    retry_after_seconds,
)
from gateway import sealing
from gateway.caches import BoundedLRU
from gateway.habilitation import load_matrix
from gateway.habilitation.matrix import Matrix
from gateway.sealing import Keyring, SealError
from gateway.settings import Settings
from gateway.storage import connectors as connector_repository
from gateway.storage import notebooks
from gateway.storage import subscriptions as repository
from gateway.storage.database import Database
from gateway.storage.driver import json_list
from gateway.storage.tables import Delivery
from gateway.subscriptions import addresses, embedding, service
from gateway.subscriptions.outbox import DELIVERED, FAILED, GONE, HEARTBEAT, PENDING, new_event_id
from gateway.subscriptions.signing import headers as signed_headers
from gateway.subscriptions.wire import WEBHOOK, body_of, change_event
from referential import Validator, Violation, default_validator

if TYPE_CHECKING:
    from gateway.connectors.loader import Connectors

logger = logging.getLogger(__name__)
#: The target of a subscription delivered by a connector: ``connecteur:<slug>``.
CONNECTOR_SCHEME = "connecteur:"

#: Delays before each retry (the first attempt is immediate).
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.2
#: A body that is not an instance of its published schema: never sent, a dead letter at once.
NONCONFORMING = "corps_non_conforme"
#: A subscription URL the HTTP client cannot call: a dead letter at once.
INVALID_URL = "url_invalide"
#: An unexpected error while delivering: a failed attempt, retried on the schedule.
UNEXPECTED = "erreur_livraison"
LEASE = timedelta(seconds=60)
#: The longest wait a receiver's ``Retry-After`` (429, 503) imposes before the next attempt.
RETRY_AFTER_CAP = timedelta(hours=24)
TIMEOUT = httpx.Timeout(10.0)
#: The target host names whose connections are kept open (one pool each).
POOLS = 64
#: The receiver's certificate is not valid for its name: retried like a refused connection.
CERTIFICATE = "certificat_invalide"


def retry_delay(attempts: int, rng: Callable[[], float] = random.random) -> timedelta | None:
    """The delay before the next attempt after ``attempts`` failed ones (None: give up)."""
    if attempts > len(SCHEDULE):
        return None
    base = SCHEDULE[attempts - 1]
    return base * (1 + JITTER * (2 * rng() - 1))


@dataclass(slots=True)
class Claimed:
    delivery: Delivery
    url: str
    secrets: list[str]
    #: The client owning the subscription (a connector target must be the connector's own).
    client_id: str = ""
    #: Why the signing secrets could not be opened (the keys of the settings).
    unreadable: str | None = None
    #: The subscription embeds the changed sections.
    embed: bool = False


class Worker:
    """Delivers the outbox; :meth:`run_once` is one pass, :meth:`run` loops until stopped."""

    def __init__(
        self,
        database: Database,
        *,
        transport: httpx.BaseTransport | None = None,
        batch: int = 50,
        lease: timedelta = LEASE,
        heartbeat: timedelta | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        connectors: Connectors | None = None,
        settings: Settings | None = None,
        keyring: Keyring | None = None,
        matrix: Matrix | None = None,
        validator: Validator | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``transport``: where requests go instead of the network (tests), shared by every
        host; ``verify``: the certificates trusted for https receivers (default: certifi's)."""
        self.database = database
        settings = settings or Settings()
        #: Opens the sealed signing secrets (default: the keys of the settings).
        self.keyring = keyring or sealing.keyring(settings)
        #: Receivers on this machine, outside production only.
        self.allow_loopback = settings.environment != "production"
        #: For the subscriptions that embed the changed sections.
        self.matrix = matrix or load_matrix()
        self.validator = validator or default_validator()
        #: The enabled connectors; those with ``deliver`` serve ``connecteur:<slug>`` targets.
        self.connectors = connectors
        self._loop: asyncio.AbstractEventLoop | None = None
        self._used: dict[str, Deliver] = {}
        self._transport = transport
        self._verify = verify
        #: One client (one connection pool) per target host name, the most recent last.
        self._clients: BoundedLRU[str, httpx.Client] = BoundedLRU(
            POOLS, on_evict=lambda _, client: client.close()
        )
        self.batch = batch
        self.lease = lease
        #: Every subscription asking for ``battement`` gets one event at least this often.
        self.heartbeat = heartbeat
        self.now = now
        self._stop = threading.Event()

    def _client(self, host: str) -> httpx.Client:
        """The client for the target ``host`` (name and port as the URL gives them).

        Connections pool by address, and the worker connects to addresses it checked: one
        shared pool would reuse a connection verified for one name for another name at the
        same address, whose certificate would then never be checked. So each name has its own
        pool, the least recently used closed beyond :data:`POOLS`. A test transport (no
        network) is shared."""
        key = "" if self._transport is not None else host
        client = self._clients.get(key)
        if client is None:
            client = httpx.Client(
                timeout=TIMEOUT,
                transport=self._transport,
                verify=self._verify,
                follow_redirects=False,
            )
            self._clients.put(key, client)
        return client

    def close(self) -> None:
        for _, client in self._clients.drain():
            client.close()
        if self._loop is not None:
            # The connectors this worker called hold their HTTP client on its loop.
            for slug, connector in self._used.items():
                try:
                    self._loop.run_until_complete(connector.aclose())  # type: ignore[attr-defined]
                except Exception:
                    logger.exception("livraisons : fermeture du connecteur %s", slug)
            self._loop.close()
            self._loop = None

    def stop(self) -> None:
        self._stop.set()

    def run(self, idle_seconds: float = 1.0) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # a pass that fails is retried; the rows keep their lease
                logger.exception("livraisons : passe en échec")
                done = 0
            if not done:
                self._stop.wait(idle_seconds)

    def run_once(self) -> int:
        """Claim the due deliveries, push them, record the outcomes; how many were tried."""
        if self.heartbeat is not None:
            self._queue_heartbeats()
        token = str(uuid.uuid4())
        claimed = self._claim(token)
        for item in claimed:
            try:
                self._deliver(item, token)
            except Exception:
                # One delivery never stalls the others: this one is a failed attempt, retried
                # on the schedule and then a dead letter, and the pass goes on.
                logger.exception("livraisons : livraison %s en échec", item.delivery.id)
                try:
                    self._record(item.delivery, token, None, UNEXPECTED)
                except Exception:  # the row keeps its lease and is claimed again when it ends
                    logger.exception("livraisons : échec non enregistré (%s)", item.delivery.id)
        return len(claimed)

    def _claim(self, token: str) -> list[Claimed]:
        now = self.now()
        with self.database.write() as session:
            ids = repository.due(session, now, self.batch)
            if not ids:
                return []
            claimed = []
            for delivery_id in ids:
                delivery = repository.delivery_by_id(session, delivery_id)
                subscription = (
                    repository.subscription_by_id(session, delivery.abonnement_id)
                    if delivery
                    else None
                )
                if delivery is None or subscription is None:
                    continue
                delivery.bail = token
                delivery.prochaine_tentative = now + self.lease
                item = Claimed(
                    delivery,
                    subscription.url,
                    [],
                    subscription.client_id,
                    embed=subscription.inclure_sections,
                )
                if not subscription.url.startswith(CONNECTOR_SCHEME):  # a webhook is signed
                    try:
                        item.secrets = service.valid_secrets(subscription, now, self.keyring)
                    except SealError as error:
                        # Keys missing from CARNET_CLES_SECRETS: retried until an operator
                        # restores them, then a dead letter (redeliverable).
                        logger.warning(
                            "livraisons : secret d'abonnement illisible (%s)", error.code
                        )
                        item.unreadable = error.code
                claimed.append(item)
            session.flush()
            for item in claimed:
                session.expunge(item.delivery)
        return claimed

    def _queue_heartbeats(self) -> None:
        """Queue a heartbeat for the subscriptions asking for one whose last heartbeat is older
        than the interval (two workers may both queue one: a subscriber sees one more)."""
        assert self.heartbeat is not None
        now = self.now()
        with self.database.write() as session:
            due = repository.heartbeats_due(session, now, self.heartbeat)
            rows = [
                {
                    "abonnement_id": subscription_id,
                    "evenement_id": new_event_id(),
                    "type": HEARTBEAT,
                    "sections": [],
                    "horodatage": now,
                    "statut": PENDING,
                    "tentatives": 0,
                    "prochaine_tentative": now,
                    "cree_le": now,
                }
                for subscription_id, types in due
                if HEARTBEAT in json_list(types)
            ]
            repository.queue(session, rows)

    def _deliver(self, item: Claimed, token: str) -> None:
        delivery = item.delivery
        if item.url.startswith(CONNECTOR_SCHEME):
            self._deliver_by_connector(item, token, item.url.removeprefix(CONNECTOR_SCHEME))
            return
        if item.unreadable is not None:
            self._record(delivery, token, None, item.unreadable)
            return
        inclusion = self._embedded(delivery) if item.embed else None
        body = body_of(delivery, inclusion.carnet if inclusion is not None else None)
        violations = WEBHOOK.violations(body)
        if inclusion is not None:
            violations += embedding.violations(inclusion.carnet, self.validator)
        if violations:
            # Never sent: receivers are promised instances of the published schema.
            self._record(
                delivery, token, None, NONCONFORMING, permanent=True, violations=violations
            )
            return
        try:
            # Resolved and checked now, sent to the address checked (DNS rebinding).
            target = addresses.pin(item.url, allow_loopback=self.allow_loopback)
        except addresses.AddressRefused as refused:
            self._record(delivery, token, None, refused.code)
            return
        except (httpx.InvalidURL, ValueError, UnicodeError):
            # A URL the HTTP client cannot call (bad port, bad IDNA host): no retry will cure it.
            self._record(delivery, token, None, INVALID_URL, permanent=True)
            return
        if not self._hold(delivery, token):
            return
        if inclusion is not None:
            # Journaled before it leaves: once sent, the data may be kept whatever the answer.
            with self.database.write() as session:
                notebooks.record_access(session, inclusion.entry)
        now = self.now()
        headers = signed_headers(item.secrets, delivery.evenement_id, int(now.timestamp()), body)
        headers["content-type"] = "application/json"
        status: int | None = None
        error: str | None = None
        wait: float | None = None
        try:
            response = self._client(target.headers["host"]).post(
                target.url,
                content=body,
                headers=headers | target.headers,
                extensions=target.extensions,
            )
            status = response.status_code
            if status in (429, 503):
                wait = retry_after_seconds(response.headers.get("retry-after"), self.now())
        except httpx.TimeoutException:
            error = "delai_depasse"
        except httpx.HTTPError as failure:
            error = CERTIFICATE if _certificate_refused(failure) else "connexion_impossible"
        self._record(delivery, token, status, error, retry_after=wait)

    def _hold(self, delivery: Delivery, token: str) -> bool:
        """Renew this worker's lease on ``delivery`` just before it is sent (committed); False
        when the lease has ended and another worker claimed it (or recorded it): not sent."""
        with self.database.write() as session:
            return repository.renew_lease(session, delivery.id, token, self.now() + self.lease)

    def _embedded(self, delivery: Delivery) -> embedding.Embedded | None:
        with self.database.read() as session:
            subscription = repository.subscription_by_id(session, delivery.abonnement_id)
            if subscription is None:
                return None
            return embedding.embedded(
                session, self.matrix, subscription, delivery, self.validator, self.now()
            )

    def _deliver_by_connector(self, item: Claimed, token: str, slug: str) -> None:
        """Hand the event to the connector: no error acknowledges, a retryable error (or an
        unexpected one) retries, another error is a dead letter at once."""
        delivery = item.delivery
        entry = self.connectors.get(slug) if self.connectors is not None else None
        connector = entry.connector if entry is not None else None
        if delivery.carnet_id is None:  # a heartbeat: for webhook receivers only
            self._record(delivery, token, None, None, delivered=True)
            return
        if connector is None or not isinstance(connector, Deliver):
            self._record(delivery, token, None, "connecteur_absent")
            return
        assert entry is not None
        if entry.clients.get(delivery.territoire or "") != item.client_id:
            # Enabled in this territory (CARNET_CONNECTEURS) and subscribed as its own client.
            self._record(delivery, token, None, "connecteur_non_active", permanent=True)
            return
        error: str | None = None
        permanent = False
        wait: float | None = None
        violations: tuple[Violation, ...] = ()
        if not self._hold(delivery, token):
            return
        self._used[slug] = connector
        try:
            self._run(connector.deliver(change_event(delivery)))
        except ConnectorError as failure:
            error, permanent = failure.code, not failure.retryable
            wait = failure.retry_after
            if isinstance(failure, NonConformingBody):
                violations = failure.violations
        except Exception:
            logger.exception("livraisons : connecteur %s en échec", slug)
            error = "erreur_connecteur"
        self._record(
            delivery,
            token,
            None,
            error,
            delivered=error is None,
            permanent=permanent,
            connector=(slug, connector.circuit().value),
            violations=violations,
            retry_after=wait,
        )

    def _run(self, awaitable: Any) -> None:
        """Run a connector's coroutine on the worker's own event loop (one per worker, so that
        the connector's HTTP client lives on one loop)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(awaitable)

    def _record(
        self,
        delivery: Delivery,
        token: str,
        status: int | None,
        error: str | None,
        *,
        delivered: bool = False,
        permanent: bool = False,
        connector: tuple[str, str] | None = None,
        violations: Sequence[Violation] = (),
        retry_after: float | None = None,
    ) -> None:
        """Write the outcome of an attempt; ``retry_after``: the seconds the receiver asked
        to wait (``Retry-After``), honoured up to :data:`RETRY_AFTER_CAP`."""
        now = self.now()
        with self.database.write() as session:
            if connector is not None:
                slug, circuit = connector
                connector_repository.record_call(
                    session,
                    slug,
                    at=now,
                    error=error,
                    unchanged=False,
                    unknown_codes=0,
                    circuit=circuit,
                )
            current = repository.delivery_by_id(session, delivery.id)
            if current is None or current.bail != token or current.statut != PENDING:
                return  # the lease ended and another worker took over
            current.tentatives += 1
            current.dernier_statut_http = status
            current.derniere_erreur = error
            current.erreurs = [v.to_wire() for v in violations] or None
            current.bail = None
            if delivered or (status is not None and 200 <= status < 300):
                current.statut, current.livre_le = DELIVERED, now
            elif status == 410:
                current.statut, current.derniere_erreur = GONE, "destinataire_disparu"
                repository.disable(session, current.abonnement_id, "destinataire_disparu", now)
            else:
                if error is None:
                    current.derniere_erreur = f"statut_{status}"
                delay = None if permanent else retry_delay(current.tentatives)
                if delay is None:
                    current.statut = FAILED
                else:
                    if retry_after is not None:
                        # Capped in seconds first: a huge value never reaches timedelta.
                        asked = min(max(retry_after, 0.0), RETRY_AFTER_CAP.total_seconds())
                        delay = max(delay, timedelta(seconds=asked))
                    current.prochaine_tentative = now + delay


def _certificate_refused(error: BaseException) -> bool:
    """The connection failed because the receiver's certificate was not valid for its name."""
    seen: BaseException | None = error
    for _ in range(8):  # httpx wraps httpcore, which wraps ssl
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
