"""Failed identifications counted per client: past a threshold in a window, the client is
refused (429 with ``Retry-After``) until the window ends, and its organisation's journal gets
an alert entry for the operators. Counted in the database: every worker sees the same count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.habilitation.guard import Guard
from gateway.notebooks.errors import TooManyIdentificationFailures
from gateway.settings import Settings
from gateway.storage import Session
from gateway.storage import followup as repository
from gateway.storage.notebooks import record_access

ALERT = "seuil_echecs_identification"


@dataclass(frozen=True, slots=True)
class Throttle:
    """The threshold and window of failed identifications (from the settings)."""

    maximum: int
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Throttle:
        return cls(
            settings.identification_echecs_max,
            timedelta(minutes=settings.identification_fenetre_minutes),
        )

    def check(self, session: Session, guard: Guard) -> None:
        """429 when the client's failed identifications reached the threshold in this
        window, with the seconds left until it ends."""
        now = datetime.now(UTC)
        count, started = repository.failures(session, guard.principal.client_id, now - self.window)
        if count < self.maximum or started is None:
            return
        left = max(1, int((started + self.window - now).total_seconds()) + 1)
        raise TooManyIdentificationFailures(headers={"Retry-After": str(left)})

    def failure(self, guard: Guard) -> Callable[[Session], None]:
        """What a failed identification leaves behind (see ``ProblemError.records``): one
        more failure counted; the alert entry when it reaches the threshold."""

        def count(session: Session) -> None:
            now = datetime.now(UTC)
            since = now - self.window
            client_id = guard.principal.client_id
            repository.count_failure(session, client_id, now, since)
            if repository.failures(session, client_id, since)[0] == self.maximum:
                record_access(session, guard.entry("identification", None, [], ALERT))

        return count
