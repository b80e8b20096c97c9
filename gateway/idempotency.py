"""Idempotent writes: the same ``Idempotency-Key`` replays the stored response.

A key is scoped to the client. Its record (status, headers and body of the 2xx response, and a
fingerprint of the request) is written in the same transaction as the write itself, so a
replay never races a half-done write. The same key with another request is refused (422). Records
are kept for ``idempotency_hours`` (at least 24 h).

A record holds no personal data: an answer that embedded a notebook as the caller could read it
(an :class:`EmbeddingResponse`) is stored without it, with a flag, and a replay renders the
notebook again as the caller may read it *now* (see :data:`Rerender`), or answers without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway import threads
from gateway.container import gateway_of
from gateway.errors import ProblemError
from gateway.notebooks.errors import IdempotencyKeyReused
from gateway.storage import Conflict, Session
from gateway.storage import notebooks as repository
from gateway.storage.database import Database, WriterBusy
from gateway.storage.tables import IdempotencyRecord, JournalEntry

MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
#: Journal outcomes: a replayed answer; a refused request (``refuse:<code>``).
REPLAYED, REFUSED_PREFIX = "rejeu", "refuse:"


#: Renders again, at replay, an answer that embedded a notebook: from the write transaction's
#: session, the stored answer without the notebook and the notebook's id, the body to answer
#: and the data categories it serves (the answer as stored, and none, when the caller may no
#: longer read the notebook).
Rerender = Callable[[Session, bytes, str], tuple[bytes, list[str]]]


class EmbeddingResponse(Response):
    """A write's answer that embeds a notebook as the caller could read it: the idempotency
    store keeps ``head``, the answer without the notebook, and the notebook's id."""

    def __init__(
        self,
        body: bytes,
        *,
        head: bytes,
        carnet_id: str,
        status_code: int,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(
            body, status_code=status_code, headers=headers, media_type="application/json"
        )
        self.head = head
        self.carnet_id = carnet_id


def refused(code: str) -> str:
    """The journal outcome of a request refused with ``code`` (the column holds 40)."""
    return (REFUSED_PREFIX + code)[:40]


class InvalidIdempotencyKey(ProblemError):
    status = 400
    code = "cle_idempotence_invalide"
    title = "En-tête Idempotency-Key invalide (1 à 255 caractères imprimables)."


def store_records(session: Session, records: list[Any]) -> None:
    """Store what a refused request leaves behind (see :attr:`ProblemError.records`): rows,
    or functions of the session (a counter to update)."""
    for record in records:
        if callable(record):
            record(session)
        else:
            repository.add_row(session, record)


def fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.url.path.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey()
    return key


def _record(client_id: str, key: str, print_: str, response: Response) -> IdempotencyRecord:
    """What the store keeps of a 2xx answer: no embedded notebook, only that there was one."""
    embedded = response if isinstance(response, EmbeddingResponse) else None
    return IdempotencyRecord(
        client_id=client_id,
        cle=key,
        empreinte=print_,
        statut=response.status_code,
        corps=bytes(response.body) if embedded is None else embedded.head,
        entetes={
            k: v
            for k, v in response.headers.items()
            if k.lower() in ("etag", "location", "content-type")
        },
        avec_carnet=embedded is not None,
        carnet_id=None if embedded is None else embedded.carnet_id,
        cree_le=datetime.now(UTC),
    )


def _replay(
    session: Session, record: IdempotencyRecord, rerender: Rerender | None
) -> tuple[Response, list[str]]:
    """The stored answer, its notebook rendered again if it embedded one, and the categories
    served."""
    body: bytes = record.corps
    categories: list[str] = []
    if record.avec_carnet and record.carnet_id is not None and rerender is not None:
        body, categories = rerender(session, record.corps, record.carnet_id)
    headers = dict(record.entetes)
    headers[REPLAYED_HEADER] = "true"
    return Response(body, status_code=record.statut, headers=headers), categories


def _fresh(record: IdempotencyRecord | None, hours: int) -> IdempotencyRecord | None:
    if record is None:
        return None
    created = record.cree_le if record.cree_le.tzinfo else record.cree_le.replace(tzinfo=UTC)
    return record if created > datetime.now(UTC) - timedelta(hours=hours) else None


def run_write(
    database: Database,
    request: Request,
    body: bytes,
    client_id: str,
    operation: Callable[[Session], Response],
    *,
    wait: bool = True,
    journal: Callable[[str], dict[str, Any]] | None = None,
    idempotent: bool = True,
    rerender: Rerender | None = None,
) -> Response:
    """Run ``operation`` in one write transaction, idempotently when the request names a key.

    Records are kept for the ``idempotency_hours`` of the application's settings. With
    ``wait=False``, :class:`WriterBusy` is raised, before anything is done, when the database
    is busy with another writer. ``journal`` gives the access journal's entry of the request
    for an outcome: a replay is journaled (``rejeu``), and so is a refusal
    (``refuse:<code>``) that did not journal itself. ``rerender`` renders again the notebook
    an answer embedded (see :class:`EmbeddingResponse`); without it, such an answer is
    replayed without the notebook. A read that journals in a write transaction runs with
    ``idempotent=False``: it never replays (nor stores) an answer.
    """
    hours: int = gateway_of(request).settings.idempotency_hours
    key = _key(request) if idempotent else None
    print_ = fingerprint(request, body) if key else ""

    def existing(session: Session) -> tuple[Response, list[str]] | None:
        if key is None:
            return None
        record = _fresh(repository.idempotency_record(session, client_id, key), hours)
        if record is None:
            return None
        if record.empreinte != print_:
            raise IdempotencyKeyReused()
        return _replay(session, record, rerender)

    for attempt in range(2):
        try:
            with database.write(wait=wait) as session:
                if key is not None:
                    # Requests with the same key wait for each other: the second one replays.
                    database.lock(session, f"idempotence:{client_id}:{key}")
                replay = existing(session)
                if replay is not None:
                    replayed, categories = replay
                    if journal is not None:
                        entry = journal(REPLAYED) | {"categories": categories}
                        repository.record_access(session, entry)
                    return replayed
                response = operation(session)
                if key is not None and 200 <= response.status_code < 300:
                    # Only expired records can be left for this key (a fresh one was replayed):
                    # forget the client's expired records, this key's included.
                    repository.purge_idempotency(
                        session, client_id, datetime.now(UTC) - timedelta(hours=hours)
                    )
                    repository.save_idempotency(session, _record(client_id, key, print_, response))
                return response
        except ProblemError as error:
            if journal is not None and not any(
                isinstance(record, JournalEntry) for record in error.records
            ):
                error.records.append(JournalEntry(**journal(refused(error.code))))
            if error.records:
                with database.write(wait=wait) as session:
                    store_records(session, error.records)
            raise
        except Conflict:
            # A concurrent request created the same person or used the same key: run again,
            # which resolves to the notebook or replays the stored response.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


async def run_write_async(
    database: Database,
    request: Request,
    body: bytes,
    client_id: str,
    operation: Callable[[Session], Response],
    journal: Callable[[str], dict[str, Any]] | None = None,
    rerender: Rerender | None = None,
) -> Response:
    """:func:`run_write` from the event loop.

    An embedded database with no other writer takes the write at once on the loop's thread:
    its writes are serialised anyway, and a worker thread would only add two hops and wait for
    the busy loop to hand over the interpreter lock at each step. Otherwise a worker thread
    waits for its turn, and the loop goes on serving.
    """
    if database.embedded:
        try:
            return run_write(
                database,
                request,
                body,
                client_id,
                operation,
                wait=False,
                journal=journal,
                rerender=rerender,
            )
        except WriterBusy:
            pass
    return await threads.run(
        "ecritures",
        threads.WRITERS[database.dialect],
        partial(run_write, journal=journal, rerender=rerender),
        database,
        request,
        body,
        client_id,
        operation,
    )
