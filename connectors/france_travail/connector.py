"""The France Travail connector: pull one person's diagnostic (connectors.md §1)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from connectors import (
    CircuitState,
    Connector,
    PullOutcome,
    PullRequest,
    PullResult,
    UpstreamMalformed,
)
from connectors.france_travail.adapters import V1, V4, Generation
from connectors.france_travail.client import FranceTravailClient
from connectors.france_travail.mapping import map_diagnostic
from connectors.france_travail.settings import FranceTravailSettings
from referential import Referential, current_referential


def fingerprint(data: Any) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace): the same dossier, whatever
    its key order or spacing, has the same hash."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


class FranceTravailConnector(Connector):
    slug = "france_travail"
    version = "1.0.0"
    description = "France Travail : diagnostic argumenté (recherche usager, dossier v4 ou v1)."
    settings_model = FranceTravailSettings
    type_acteur = "france_travail"
    finalite = "partage"

    def __init__(
        self,
        settings: FranceTravailSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        referential: Referential | None = None,
    ) -> None:
        super().__init__(settings)
        options: dict[str, Any] = {"transport": transport, "rng": rng, "clock": clock}
        if sleep is not None:
            options["sleep"] = sleep
        self.client = FranceTravailClient(settings, wall=wall, **options)
        self.referential = referential or current_referential()
        self._wall = wall
        generation: Generation
        if settings.generation == "v4":
            generation = V4(self.client, frozenset(settings.scopes_v4.split()))
        else:
            generation = V1(self.client, frozenset(settings.scopes_v1.split()))
        self.generation = generation

    def circuit(self) -> CircuitState:
        return self.client.breaker.state

    async def aclose(self) -> None:
        await self.client.aclose()

    async def pull(self, request: PullRequest) -> PullResult:
        generation = self.generation
        number = request.identifiants.get("france_travail")
        if request.nir and request.date_naissance is not None:
            found = await generation.search(request.nir[:13], request.date_naissance, request.agent)
        elif number and isinstance(generation, V4):
            # Without a NIR, the current generation finds the person by their FT number.
            found = await generation.search_by_number(number, request.agent)
        else:
            return PullResult(PullOutcome.INCOMPLETE)
        if found.outcome is not PullOutcome.DOSSIER or found.handle is None:
            return PullResult(found.outcome)
        body = await self.generation.dossier(found.handle, request.agent)
        if body is None:
            return PullResult(PullOutcome.NO_DOSSIER)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamMalformed("Dossier FT illisible (JSON invalide ou tronqué).") from None
        if not isinstance(data, dict):
            raise UpstreamMalformed("Dossier FT : un objet JSON était attendu.")
        if not data:
            return PullResult(PullOutcome.NO_DOSSIER)
        diagnostic, unknown_fields = self.generation.diagnostic(data)
        mapped = map_diagnostic(diagnostic, self.referential, self._wall())
        return PullResult(
            PullOutcome.DOSSIER,
            contribution=mapped.contribution,
            fingerprint=fingerprint(data),
            notices=mapped.notices,
            unknown_codes=mapped.unknown_codes,
            unknown_fields=unknown_fields,
        )
