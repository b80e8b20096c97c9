"""The only place that speaks HTTP to France Travail: tokens, retries, circuit breaker.

One long-lived ``httpx.AsyncClient``. Tokens (OAuth2 client credentials, ``client_secret_post``,
the realm in the query string) are cached in memory per (token URL, realm, client id, scope
set), renewed ``token_margin_seconds`` before they expire, one renewal at a time; never stored
or logged. Calls are retried with exponential backoff and jitter on 429 (``Retry-After`` in
seconds or as an HTTP-date), 5xx, timeouts and transport failures, within a bounded number of
attempts and a bounded total wait; a 401 drops the token and retries once. Repeated outages
open a circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import orjson
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from connectors import (
    CircuitBreaker,
    CircuitOpen,
    ConnectorError,
    RetryPolicy,
    Throttle,
    UpstreamConfiguration,
    UpstreamMalformed,
    UpstreamTimeout,
    UpstreamUnavailable,
    retry_after_seconds,
)
from connectors.france_travail.settings import FranceTravailSettings

T = TypeVar("T")
AGENT = "/agent"
PARTENAIRE = "/partenaire"
#: Token errors an operator must fix (RFC 6749 §5.2): never retried.
CONFIGURATION_ERRORS = frozenset(
    {"invalid_client", "invalid_scope", "unsupported_grant_type", "unauthorized_client"}
)


class _PersonPaths(logging.Filter):
    """httpx logs every request's URL at INFO: the v1 dossier's URL carries the person's FT
    identifier, which must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(PERSON_PATH in str(arg) for arg in record.args):
            record.args = tuple(
                _redacted(str(arg)) if PERSON_PATH in str(arg) else arg for arg in record.args
            )
        return True


def _redacted(url: str) -> str:
    head, _, _ = url.partition(PERSON_PATH)
    return head + PERSON_PATH + "…"


PERSON_PATH = "/diagnosticargumente/v1/individus/"
logging.getLogger("httpx").addFilter(_PersonPaths())


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    type: str
    expires_at: float


class FranceTravailClient:
    def __init__(
        self,
        settings: FranceTravailSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(
                settings.read_timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        self.policy = RetryPolicy(
            attempts=settings.retry_attempts,
            base=settings.retry_base_seconds,
            cap=settings.retry_cap_seconds,
            total_wait=settings.retry_total_wait_seconds,
            retry_after_default=settings.retry_after_default_seconds,
            sleep=sleep,
            rng=rng or random.Random(),
        )
        self.breaker = CircuitBreaker(
            settings.circuit_threshold, settings.circuit_cooldown_seconds, clock
        )
        self.throttle = Throttle(settings.rate_limit_per_second, clock, sleep)
        self._clock = clock
        self._wall = wall
        self._tokens: dict[tuple[str, str, str, frozenset[str]], Token] = {}
        self._locks: dict[tuple[str, str, str, frozenset[str]], asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- tokens ----------------------------------------------------------------------------------

    def _token_url(self, realm: str) -> str:
        settings = self.settings
        return settings.token_url_agent if realm == AGENT else settings.token_url_partenaire

    def _key(self, realm: str, scopes: frozenset[str]) -> tuple[str, str, str, frozenset[str]]:
        return (self._token_url(realm), realm, self.settings.client_id, scopes)

    def _valid(self, token: Token | None) -> bool:
        margin = self.settings.token_margin_seconds
        return token is not None and self._clock() < token.expires_at - margin

    async def token(self, realm: str, scopes: frozenset[str], *, retry: bool = True) -> Token:
        """A token for ``realm`` and exactly ``scopes``: cached, renewed ahead of expiry, one
        renewal at a time whatever the number of callers. Without ``retry``, one request at
        most: :meth:`call` retries the whole call, token included, within its own bounds."""
        key = self._key(realm, scopes)
        cached = self._tokens.get(key)
        if self._valid(cached):
            assert cached is not None
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if self._valid(cached):
                assert cached is not None
                return cached
            if retry:
                token = await self._attempts(lambda: self._fetch_token(realm, scopes))
            else:
                token = await self._fetch_token(realm, scopes)
            self._tokens[key] = token
            return token

    def drop_token(self, realm: str, scopes: frozenset[str]) -> None:
        self._tokens.pop(self._key(realm, scopes), None)

    async def _fetch_token(self, realm: str, scopes: frozenset[str]) -> Token:
        settings = self.settings
        scope = " ".join([f"application_{settings.client_id}", *sorted(scopes)])
        body = prepare_token_request(
            "client_credentials",
            scope=scope,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
        )
        started = self._clock()
        response = await self._send(
            "POST",
            self._token_url(realm),
            params={"realm": realm},
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code >= 500:
            raise UpstreamUnavailable(f"Jeton FT : erreur {response.status_code}.")
        data = _json_object(response)
        if response.status_code != 200:
            error = str(data.get("error") or "")
            if error in CONFIGURATION_ERRORS:
                raise UpstreamConfiguration(f"Jeton FT refusé : {error}.")
            raise UpstreamMalformed(f"Jeton FT : réponse {response.status_code} inattendue.")
        value, kind, lifetime = (
            data.get("access_token"),
            data.get("token_type"),
            data.get("expires_in"),
        )
        if not isinstance(value, str) or not value or not isinstance(lifetime, int | float):
            raise UpstreamMalformed("Jeton FT : réponse sans access_token ni expires_in.")
        return Token(
            value=value,
            type=kind if isinstance(kind, str) and kind else "Bearer",
            expires_at=started + float(lifetime),
        )

    # -- calls -----------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        realm: str,
        scopes: frozenset[str],
        headers: Mapping[str, str],
        json: Any = None,
    ) -> httpx.Response:
        """An API call with its token; the response of a status below 500 other than 429 (the
        caller reads what it means). Outages count towards the circuit breaker."""
        trial = self.breaker.before_call()
        url = self.settings.api_url.rstrip("/") + path
        content = None if json is None else orjson.dumps(json)
        base = {"Content-Type": "application/json", **headers}
        refreshed = False

        async def once() -> httpx.Response:
            nonlocal refreshed
            while True:
                # One token request per attempt: this loop's retries are the only ones.
                token = await self.token(realm, scopes, retry=False)
                response = await self._send(
                    method,
                    url,
                    content=content,
                    headers={**base, "Authorization": f"{token.type} {token.value}"},
                )
                if response.status_code == 401 and not refreshed:
                    # An expired or revoked token: renew it and try once more.
                    refreshed = True
                    self.drop_token(realm, scopes)
                    continue
                return response

        try:
            response = await self._attempts(once)
        except UpstreamUnavailable:
            self.breaker.failure()
            raise
        except BaseException:
            # Not an outage (a refusal, a malformed answer, a cancellation): no verdict.
            if trial:
                self.breaker.release()
            raise
        self.breaker.success()
        return response

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; 429 and 5xx raised as retryable errors, transport failures typed."""
        await self.throttle.wait()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise UpstreamTimeout("Le service France Travail n'a pas répondu à temps.") from None
        except httpx.TransportError:
            raise UpstreamUnavailable("Connexion au service France Travail impossible.") from None
        if response.status_code == 429:
            delay = retry_after_seconds(response.headers.get("retry-after"), self._wall())
            raise UpstreamUnavailable(
                "Trop de requêtes vers France Travail.",
                retry_after=self.policy.retry_after_default if delay is None else delay,
            )
        if response.status_code >= 500:
            raise UpstreamUnavailable(f"Erreur {response.status_code} du service France Travail.")
        return response

    async def _attempts(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation``, retrying retryable errors within the policy's bounds."""
        policy = self.policy
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return await operation()
            except ConnectorError as error:
                if not error.retryable or isinstance(error, CircuitOpen):
                    raise
                if attempt >= policy.attempts:
                    raise
                delay = error.retry_after
                if delay is None:
                    delay = policy.backoff(attempt)
                if waited + delay > policy.total_wait:
                    raise
                await policy.sleep(delay)
                waited += delay


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UpstreamMalformed(
            f"Réponse {response.status_code} de France Travail illisible (pas du JSON)."
        ) from None
    if not isinstance(data, dict):
        raise UpstreamMalformed(f"Réponse {response.status_code} de France Travail : pas un objet.")
    return data


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The body of a response as a JSON object (UpstreamMalformed otherwise)."""
    return _json_object(response)
