"""The France Travail HTTP client: tokens, retries, Retry-After, timeouts, circuit breaker."""

import asyncio
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs

import httpx
import pytest

from connectors import (
    CircuitOpen,
    CircuitState,
    UpstreamConfiguration,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.france_travail.client import AGENT, PARTENAIRE
from tests.connectors.france_travail.samples import (
    API,
    CLIENT_ID,
    SECRET,
    TOKEN_AGENT,
    TOKEN_PARTENAIRE,
    token,
)

SCOPES = frozenset({"api_rechercher-usagerv2", "rechercheusager", "profil_accedant"})
PING = API + "/partenaire/ping"


def tokens(mock, url=TOKEN_AGENT, realm=AGENT, name="token", **answer):
    return mock.post(url, params={"realm": realm}, name=name).mock(
        return_value=httpx.Response(answer.pop("status", 200), json=answer.pop("json", token()))
    )


def form(request):
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def call(ft, realm=AGENT, scopes=SCOPES):
    return await ft.client.call("GET", "/partenaire/ping", realm=realm, scopes=scopes, headers={})


# -- tokens --------------------------------------------------------------------------------------


async def test_a_partenaire_token_is_asked_with_the_realm_in_the_query_and_sent_as_bearer(ft, mock):
    route = tokens(mock, TOKEN_PARTENAIRE, PARTENAIRE)
    api = mock.get(PING, name="api").respond(200, json={})
    await call(ft, PARTENAIRE, frozenset({"api_rechercher-usagerv1"}))
    request = route.calls.last.request
    assert request.url.params["realm"] == "/partenaire"
    body = form(request)
    assert body["grant_type"] == "client_credentials"
    assert body["client_id"] == CLIENT_ID
    assert body["client_secret"] == SECRET
    assert body["scope"] == f"application_{CLIENT_ID} api_rechercher-usagerv1"
    assert "realm" not in body
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert api.calls.last.request.headers["authorization"] == "Bearer demo.access.token.1"


async def test_agent_and_partenaire_tokens_come_from_their_hosts_and_are_cached_apart(ft, mock):
    agent = tokens(mock, json=token("agent-token"))
    partenaire = tokens(mock, TOKEN_PARTENAIRE, PARTENAIRE, name="p", json=token("p-token"))
    api = mock.get(PING, name="api").respond(200, json={})
    await call(ft)
    await call(ft, PARTENAIRE)
    await call(ft)
    await call(ft, PARTENAIRE)
    assert agent.call_count == 1
    assert partenaire.call_count == 1
    sent = [c.request.headers["authorization"] for c in api.calls]
    assert sent == ["Bearer agent-token", "Bearer p-token"] * 2


async def test_a_token_is_reused_until_ten_seconds_before_expiry(ft, mock, clock):
    route = tokens(mock, json=token(expires_in=1499))
    mock.get(PING).respond(200, json={})
    await call(ft)
    clock.now += 1499 - 10 - 1
    await call(ft)
    assert route.call_count == 1
    clock.now += 2
    await call(ft)
    assert route.call_count == 2


async def test_a_new_scope_set_gets_its_own_token(ft, mock):
    route = tokens(mock)
    mock.get(PING).respond(200, json={})
    await call(ft)
    await call(ft, scopes=SCOPES | {"api_donnees-rqthv1"})
    assert route.call_count == 2
    assert "api_donnees-rqthv1" in form(route.calls.last.request)["scope"]


async def test_concurrent_callers_trigger_one_token_request(ft, mock):
    route = tokens(mock)
    await asyncio.gather(*(ft.client.token(AGENT, SCOPES) for _ in range(5)))
    assert route.call_count == 1


@pytest.mark.parametrize("error", ["invalid_client", "invalid_scope", "unsupported_grant_type"])
async def test_a_refused_token_is_a_configuration_error_never_retried(ft, mock, error, sleeps):
    route = tokens(mock, status=400, json={"error": error, "error_description": "refusé"})
    with pytest.raises(UpstreamConfiguration, match=error):
        await call(ft)
    assert route.call_count == 1
    assert sleeps == []


async def test_a_token_server_error_is_retried_with_backoff(ft, mock, sleeps):
    route = mock.post(TOKEN_AGENT, params={"realm": AGENT}).mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json=token())]
    )
    mock.get(PING).respond(200, json={})
    await call(ft)
    assert route.call_count == 2
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] <= 0.5


async def test_a_token_connect_timeout_is_retried(ft, mock, sleeps):
    route = mock.post(TOKEN_AGENT, params={"realm": AGENT}).mock(
        side_effect=[httpx.ConnectTimeout("slow"), httpx.Response(200, json=token())]
    )
    mock.get(PING).respond(200, json={})
    await call(ft)
    assert route.call_count == 2


async def test_an_api_401_drops_the_token_and_retries_once(ft, mock):
    route = mock.post(TOKEN_AGENT, params={"realm": AGENT}).mock(
        side_effect=[httpx.Response(200, json=token("old")), httpx.Response(200, json=token("new"))]
    )
    api = mock.get(PING).mock(side_effect=[httpx.Response(401), httpx.Response(200, json={})])
    response = await call(ft)
    assert response.status_code == 200
    assert route.call_count == 2
    assert [c.request.headers["authorization"] for c in api.calls] == ["Bearer old", "Bearer new"]


async def test_a_second_401_is_returned_to_the_caller(ft, mock):
    tokens(mock)
    api = mock.get(PING).respond(401)
    assert (await call(ft)).status_code == 401
    assert api.call_count == 2


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [("0", 0.0), ("5", 5.0)])
async def test_429_honours_retry_after_in_seconds(ft, mock, sleeps, header, expected):
    tokens(mock)
    api = mock.get(PING).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200)]
    )
    await call(ft)
    assert api.call_count == 2
    assert sleeps == [expected]


async def test_429_honours_retry_after_as_an_http_date(ft, mock, sleeps, clock):
    tokens(mock)
    when = format_datetime(clock.wall + timedelta(seconds=7), usegmt=True)
    mock.get(PING).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200)]
    )
    await call(ft)
    assert sleeps == [7.0]


async def test_429_without_retry_after_gives_up_at_once_with_the_default_delay(ft, mock, sleeps):
    tokens(mock)
    api = mock.get(PING).respond(429)
    with pytest.raises(UpstreamUnavailable) as raised:
        await call(ft)
    # The default wait (60 s) exceeds the total wait allowed (30 s): report it, do not wait.
    assert raised.value.retry_after == 60.0
    assert api.call_count == 1
    assert sleeps == []


async def test_ten_429_in_a_row_give_up_within_the_attempts_and_the_wait_cap(ft, mock, sleeps):
    tokens(mock)
    api = mock.get(PING).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "2"})] * 10)
    with pytest.raises(UpstreamUnavailable) as raised:
        await call(ft)
    assert raised.value.retryable
    assert api.call_count == 4
    assert sleeps == [2.0, 2.0, 2.0]
    assert sum(sleeps) <= 30


async def test_ten_429_asking_for_20_s_give_up_once_the_wait_cap_would_be_passed(ft, mock, sleeps):
    """Two waits of 20 s exceed the 30 s the client may wait: one wait, then the error says
    when to come back."""
    tokens(mock)
    api = mock.get(PING).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "20"})] * 10)
    with pytest.raises(UpstreamUnavailable) as raised:
        await call(ft)
    assert api.call_count == 2
    assert sleeps == [20.0]
    assert raised.value.retry_after == 20.0


async def test_a_500_with_an_ft_error_body_is_retried_then_reported(ft, mock, sleeps):
    tokens(mock)
    body = {"codeErreur": "JCS0011G", "codeHttp": 500, "message": "La vue service est nulle"}
    api = mock.get(PING).respond(500, json=body)
    with pytest.raises(UpstreamUnavailable, match="500"):
        await call(ft)
    assert api.call_count == 4
    assert len(sleeps) == 3
    # Exponential backoff with jitter: each delay within [ceiling/2, ceiling].
    for attempt, delay in enumerate(sleeps, start=1):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling


async def test_a_502_with_an_html_body_is_retryable(ft, mock):
    tokens(mock)
    mock.get(PING).mock(
        side_effect=[
            httpx.Response(502, html="<html><body>Bad gateway</body></html>"),
            httpx.Response(200, json={}),
        ]
    )
    assert (await call(ft)).status_code == 200


async def test_a_read_timeout_is_retried_then_a_timeout_error(ft, mock):
    tokens(mock)
    api = mock.get(PING).mock(side_effect=httpx.ReadTimeout("60 s"))
    with pytest.raises(UpstreamTimeout):
        await call(ft)
    assert api.call_count == 4


async def test_a_connect_error_is_retried(ft, mock):
    tokens(mock)
    api = mock.get(PING).mock(side_effect=[httpx.ConnectError("reset"), httpx.Response(200)])
    assert (await call(ft)).status_code == 200
    assert api.call_count == 2


async def test_every_request_carries_a_short_connect_and_a_60_s_read_timeout(ft, mock):
    """An answer within 60 s is read; one later is a read timeout (retried, then
    UpstreamTimeout: the test above)."""
    route = tokens(mock)
    api = mock.get(PING).respond(200)
    await call(ft)
    for request in (route.calls.last.request, api.calls.last.request):
        timeout = request.extensions["timeout"]
        assert timeout["read"] == 60.0
        assert timeout["connect"] == 5.0


async def test_one_http_client_serves_every_call(ft, mock):
    tokens(mock)
    mock.get(PING).respond(200)
    first = ft.client.http
    await call(ft)
    await call(ft)
    assert ft.client.http is first


# -- circuit breaker -----------------------------------------------------------------------------


async def test_repeated_outages_open_the_circuit_then_a_trial_closes_it(make, mock, clock):
    ft = make(retry_attempts=1, circuit_threshold=2, circuit_cooldown_seconds=60)
    tokens(mock)
    api = mock.get(PING).mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200)]
    )
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await call(ft)
    assert ft.circuit() is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as raised:
        await call(ft)
    assert api.call_count == 2
    assert 0 < raised.value.retry_after <= 60
    clock.now += 60
    assert ft.circuit() is CircuitState.HALF_OPEN
    assert (await call(ft)).status_code == 200
    assert ft.circuit() is CircuitState.CLOSED


async def test_a_failed_trial_opens_the_circuit_again(make, mock, clock):
    ft = make(retry_attempts=1, circuit_threshold=1, circuit_cooldown_seconds=60)
    tokens(mock)
    mock.get(PING).respond(503)
    with pytest.raises(UpstreamUnavailable):
        await call(ft)
    clock.now += 60
    with pytest.raises(UpstreamUnavailable):
        await call(ft)
    assert ft.circuit() is CircuitState.OPEN


async def test_configuration_errors_do_not_open_the_circuit(make, mock):
    ft = make(circuit_threshold=1)
    tokens(mock, status=400, json={"error": "invalid_client"})
    with pytest.raises(UpstreamConfiguration):
        await call(ft)
    assert ft.circuit() is CircuitState.CLOSED


async def test_calls_are_spaced_by_the_rate_limit(make, mock, sleeps):
    ft = make(rate_limit_per_second=2)
    tokens(mock)
    mock.get(PING).respond(200)
    for _ in range(3):
        await call(ft)
    # One token call and three API calls, half a second apart.
    assert sleeps == [0.5, 0.5, 0.5]
