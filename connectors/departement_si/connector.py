"""The département IS connector (``deliver``): one change event, one POST to the IS.

The gateway's delivery worker calls :meth:`DepartementSiConnector.deliver` for the outbox rows
of a subscription whose target is ``connecteur:departement_si``: the outbox, its retries with
backoff and its dead letter are those of the webhooks. This class makes one attempt per call
and says, by the type of the :class:`ConnectorError` it raises, whether a retry may help.

Tokens: OAuth2 client credentials (``client_secret_post``, the body built by authlib), cached
in memory until ``token_margin_seconds`` before they expire, never stored or logged; a 401 of
the IS drops the token (the next attempt fetches a new one).

The payload (documented in ``docs/connecteurs.md``) says what changed — ids, version,
sections, time — never the personal data: the IS reads the notebook with its own token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from connectors._interface import (
    ChangeEvent,
    Connector,
    NonConformingBody,
    UpstreamConfiguration,
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors._resilience import retry_after_seconds
from connectors.departement_si.settings import DepartementSiSettings
from connectors.departement_si.wire import EVENEMENT, SCHEMA

#: Token errors an operator must fix (RFC 6749 §5.2).
CONFIGURATION_ERRORS = frozenset(
    {"invalid_client", "invalid_scope", "unsupported_grant_type", "unauthorized_client"}
)


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_at: float


def payload(event: ChangeEvent) -> dict[str, Any]:
    """The documented JSON shape sent to the IS: identifiers, version, sections, time."""
    body: Mapping[str, Any] = event.body
    return {
        "schema": SCHEMA,
        "id": body.get("evenement_id"),
        "type": body.get("type"),
        "horodatage": body.get("horodatage"),
        "carnet": {
            "id": event.carnet_id,
            "version": event.version,
            "territoire": body.get("territoire"),
        },
        "sections": list(event.sections),
    }


class DepartementSiConnector(Connector):
    slug = "departement_si"
    version = "1.0.0"
    description = "SI départemental : pousse les changements des carnets (OAuth2)"
    settings_model = DepartementSiSettings
    type_acteur = "departement"
    published = (EVENEMENT,)

    def __init__(
        self,
        settings: DepartementSiSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings)
        self.config = settings
        self._transport = transport
        self._clock = clock
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token: Token | None = None

    def _client(self) -> httpx.AsyncClient:
        # One client per event loop (the delivery worker runs its own).
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            settings = self.config
            self._http = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(
                    settings.read_timeout_seconds, connect=settings.connect_timeout_seconds
                ),
                follow_redirects=False,
            )
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            try:
                await http.aclose()
            except RuntimeError:  # its loop is gone: nothing left to release
                pass

    async def token(self) -> str:
        margin = self.config.token_margin_seconds
        cached = self._token
        if cached is not None and self._clock() < cached.expires_at - margin:
            return cached.value
        settings = self.config
        body = prepare_token_request(
            "client_credentials",
            scope=settings.scope or None,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
        )
        started = self._clock()
        response = await self._send(
            "POST",
            settings.token_url,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise UpstreamUnavailable(f"Jeton SI : erreur {response.status_code}.")
        data = _json_object(response)
        if response.status_code != 200:
            error = str(data.get("error") or "")
            if error in CONFIGURATION_ERRORS or response.status_code == 401:
                raise UpstreamConfiguration(f"Jeton SI refusé : {error or response.status_code}.")
            raise UpstreamMalformed(f"Jeton SI : réponse {response.status_code} inattendue.")
        value, lifetime = data.get("access_token"), data.get("expires_in")
        if not isinstance(value, str) or not value or not isinstance(lifetime, int | float):
            raise UpstreamMalformed("Jeton SI : réponse sans access_token ni expires_in.")
        self._token = Token(value, started + float(lifetime))
        return value

    async def deliver(self, event: ChangeEvent) -> None:
        content = orjson.dumps(payload(event))
        violations = EVENEMENT.violations(content)
        if violations:
            # Never sent: the IS is promised instances of the published schema.
            raise NonConformingBody("SI : événement non conforme à son schéma publié.", violations)
        token = await self.token()
        url = self.config.base_url.rstrip("/") + self.config.events_path
        response = await self._send(
            "POST",
            url,
            content=content,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(event.body.get("evenement_id") or ""),
            },
        )
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 401:
            self._token = None
            raise UpstreamUnavailable("SI : jeton refusé (401), renouvelé à la tentative suivante.")
        if status == 403:
            raise UpstreamRefused("SI : accès refusé (403).")
        if status == 408 or status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise UpstreamUnavailable(f"SI : erreur {status}.", retry_after=wait)
        raise UpstreamRejected(f"SI : événement rejeté ({status}).")

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client().request(method, url, **kwargs)
        except httpx.TimeoutException as error:
            raise UpstreamTimeout("SI : délai dépassé.") from error
        except httpx.HTTPError as error:
            raise UpstreamUnavailable("SI : connexion impossible.") from error


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
