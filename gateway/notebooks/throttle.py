"""Failed identifications counted per client: past a threshold in a window, the client is
refused (429 with ``Retry-After``) until the window ends, and its organisation's journal gets
an alert entry for the operators. Counted in the database: every worker sees the same count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from gateway.followup import repository
from gateway.habilitation.guard import Guard
from gateway.notebooks.errors import TooManyIdentificationFailures
from gateway.notebooks.repository import record_access
from gateway.settings import Settings

ALERT = "seuil_echecs_identification"


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.identification_fenetre_minutes)


def check(session: Session, guard: Guard, settings: Settings) -> None:
    """429 when the client's failed identifications reached the threshold in this window."""
    window = _window(settings)
    if repository.failures(session, guard.principal.client_id, datetime.now(UTC) - window) < (
        settings.identification_echecs_max
    ):
        return
    raise TooManyIdentificationFailures(headers={"Retry-After": str(int(window.total_seconds()))})


def failure(guard: Guard, settings: Settings) -> Callable[[Session], None]:
    """What a failed identification leaves behind (see ``ProblemError.records``): one more
    failure counted; the alert entry when it reaches the threshold."""

    def count(session: Session) -> None:
        now = datetime.now(UTC)
        since = now - _window(settings)
        client_id = guard.principal.client_id
        repository.count_failure(session, client_id, now, since)
        if repository.failures(session, client_id, since) == settings.identification_echecs_max:
            record_access(session, guard.entry("identification", None, [], ALERT))

    return count
