"""A batch: one connector pulls every notebook of a territory that it can, in the gateway's
name (``BATCH``: the connector's client journals the accesses), one notebook after the other.

The batch stops as soon as the partner refuses every call (an error only an operator can fix:
configuration, subscription). When the partner asks to come back later (Retry-After), it waits
(at most :data:`BATCH_RETRY_AFTER_CAP_SECONDS`) and tries that notebook once more.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from connectors import BATCH
from gateway.connectors.errors import UpstreamProblem
from gateway.connectors.service import SyncService
from gateway.errors import ProblemError
from gateway.storage import connectors as repository

#: The longest a batch waits when the partner asks it to come back later (Retry-After).
BATCH_RETRY_AFTER_CAP_SECONDS = 60.0

#: How a batch shows its progress: given the notebooks' ids, a context that yields them in turn
#: (a progress bar); by default, none.
Progress = Callable[[Sequence[str]], AbstractContextManager[Iterable[str]]]


async def batch_pause(seconds: float) -> None:
    """The wait of a batch before trying a notebook again (replaced by the tests)."""
    await asyncio.sleep(seconds)


@dataclass(slots=True)
class BatchSummary:
    #: The notebooks of the territory.
    total: int
    #: How many notebooks had each outcome: ``applique``, ``introuvable``…, ``echec:<code>``
    #: (the partner failed), ``refus:<code>`` (the gateway refused), ``codes_inconnus`` (codes
    #: the referential does not know), ``non_parcourus`` (left when the batch stopped).
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Why the batch stopped: the partner refuses every call.
    stopped: UpstreamProblem | None = None

    @property
    def failed(self) -> bool:
        """Whether the batch stopped, or a notebook failed or was refused."""
        return self.stopped is not None or any(
            name.startswith(("echec:", "refus:")) for name in self.outcomes
        )


def _no_progress(ids: Sequence[str]) -> AbstractContextManager[Iterable[str]]:
    return nullcontext(ids)


def run_batch(
    service: SyncService,
    slug: str,
    territoire: str,
    *,
    force: bool = False,
    progress: Progress = _no_progress,
) -> BatchSummary:
    """Pull every notebook of ``territoire`` through the connector ``slug`` (enabled there),
    even within the freshness window with ``force``; the service's connectors are closed at
    the end."""
    with service.database.read() as session:
        ids = repository.notebooks_of(session, territoire)
    summary = BatchSummary(total=len(ids))
    outcomes = summary.outcomes

    async def pull(carnet_id: str) -> None:
        for attempt in (1, 2):
            try:
                result = await service.synchronise(
                    slug, carnet_id, trigger=None, agent=BATCH, force=force
                )
            except UpstreamProblem as error:
                if error.needs_operator:
                    summary.stopped = error
                elif attempt == 1 and error.retryable and error.retry_after is not None:
                    # The partner says when to come back (429, open circuit): wait, bounded,
                    # and try this notebook once more.
                    await batch_pause(min(error.retry_after, BATCH_RETRY_AFTER_CAP_SECONDS))
                    continue
                outcomes[f"echec:{error.code}"] += 1
            except ProblemError as error:
                outcomes[f"refus:{error.code}"] += 1
            else:
                outcomes[result.resultat] += 1
                outcomes["codes_inconnus"] += result.unknown_codes
            return

    async def run() -> None:
        try:
            with progress(ids) as notebooks:
                for rank, carnet_id in enumerate(notebooks, start=1):
                    await pull(carnet_id)
                    if summary.stopped is not None:
                        outcomes["non_parcourus"] = len(ids) - rank
                        break
        finally:
            await service.connectors.aclose()

    asyncio.run(run())
    return summary
