"""OAuth2 client credentials and bearer tokens on the notebook API."""

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import RSAKey

from gateway.app import create_app
from gateway.auth import keys
from gateway.auth import tokens as tokens_module
from gateway.storage.tables import Client, Organisation
from tests.gateway.conftest import BASE_URL


async def test_client_secret_basic_gets_a_short_lived_jwt(client, partner):
    p = await partner()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(p.client_id, p.secret)
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 600
    assert response.headers["cache-control"] == "no-store"
    header = jwt.decode(
        token["access_token"], _jwks_key(await client.get("/.well-known/jwks.json"))
    )
    assert header.header["typ"] == "at+jwt"
    claims = header.claims
    assert claims["client_id"] == p.client_id
    assert claims["sub"] == p.client_id
    assert claims["organisation"] == p.organisation_id
    assert claims["exp"] - claims["iat"] == 600


def _jwks_key(response):
    (key,) = response.json()["keys"]
    return RSAKey.import_key(key)


async def test_client_secret_post_is_accepted(client, partner):
    p = await partner()
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": p.client_id,
            "client_secret": p.secret,
        },
    )
    assert response.status_code == 200


async def test_wrong_secret_is_invalid_client(client, partner):
    p = await partner()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(p.client_id, "faux")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_unknown_client_is_invalid_client(client):
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("cli_inconnu", "x")
    )
    assert response.status_code == 401


async def test_other_grant_types_are_refused(client, partner):
    p = await partner()
    response = await client.post(
        "/oauth/token", data={"grant_type": "password"}, auth=(p.client_id, p.secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_notebook_routes_need_a_token(client):
    response = await client.get("/v1/carnets")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer pas-un-jeton", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "bearer " + "x" * 5000],
)
async def test_malformed_tokens_are_401_never_500(client, header):
    response = await client.get("/v1/carnets", headers={"Authorization": header})
    assert response.status_code == 401


async def test_expired_token_is_401(client, partner, app):
    p = await partner()
    tokens = app.state.gateway.tokens
    claims = jwt.decode(p.token, tokens.keys.public).claims
    claims.update(exp=int(time.time()) - 120, iat=int(time.time()) - 800)
    expired = jwt.encode({"alg": "RS256", "typ": "at+jwt"}, claims, tokens.keys.private)
    response = await client.get("/v1/carnets", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_token_signed_by_another_key_is_401(client, partner, app):
    p = await partner()
    claims = jwt.decode(p.token, app.state.gateway.tokens.keys.public).claims
    forged = jwt.encode({"alg": "RS256", "typ": "at+jwt"}, claims, RSAKey.generate_key(2048))
    response = await client.get("/v1/carnets", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_disabled_client_token_fails_at_once(client, partner, db):
    p = await partner()
    assert (await client.get("/v1/carnets", headers=p.headers)).status_code == 200
    with db.write() as session:
        row = session.get(Client, p.client_id)
        row.actif = False
        session.add(row)
    assert (await client.get("/v1/carnets", headers=p.headers)).status_code == 401


# -- forged, stale and misdirected tokens -------------------------------------------------------


def _parts(token):
    header, payload, signature = token.split(".")
    return header, payload, signature


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _signed(app, header_changes=None, **claim_changes):
    """A token signed with the gateway's own key, with changed header or claims."""
    tokens = app.state.gateway.tokens
    claims = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": "client",
        "client_id": "client",
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
    }
    claims.update(claim_changes)
    header = {"alg": "RS256", "typ": "at+jwt", "kid": tokens.keys.kid} | (header_changes or {})
    return jwt.encode(header, claims, tokens.keys.private)


async def _status(client, token):
    response = await client.get(
        "/v1/carnets", headers={"Authorization": f"Bearer {token}", "Finalite": "accompagnement"}
    )
    return response.status_code


@pytest.mark.parametrize(
    "changes",
    [
        {"nbf": int(time.time()) + 600},
        {"iat": int(time.time()) + 600},
        {"aud": "une-autre-api"},
        {"iss": "https://ailleurs.example"},
        {"exp": int(time.time()) - 120},
    ],
    ids=["not-yet-valid", "issued-in-the-future", "wrong-audience", "wrong-issuer", "expired"],
)
async def test_misdirected_or_stale_tokens_are_401(client, partner, app, changes):
    p = await partner()
    real = jwt.decode(p.token, app.state.gateway.tokens.keys.public).claims
    token = _signed(app, **(real | changes))
    assert await _status(client, token) == 401


async def test_a_token_naming_an_unknown_key_is_401(client, partner, app):
    p = await partner()
    real = jwt.decode(p.token, app.state.gateway.tokens.keys.public).claims
    assert await _status(client, _signed(app, {"kid": "inconnue"}, **real)) == 401


async def test_an_unsigned_token_is_401(client, partner):
    p = await partner()
    header, payload, _ = _parts(p.token)
    none_header = _b64({"alg": "none", "typ": "at+jwt"})
    assert await _status(client, f"{none_header}.{payload}.") == 401
    assert await _status(client, f"{header}.{payload}.") == 401


async def test_hs256_signed_with_the_public_key_is_401(client, partner, app):
    p = await partner()
    tokens = app.state.gateway.tokens
    real = jwt.decode(p.token, tokens.keys.public).claims
    public_pem = tokens.keys.private.as_pem(private=False)
    signing_input = _b64({"alg": "HS256", "typ": "at+jwt", "kid": tokens.keys.kid}) + "."
    signing_input += _b64(real)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert await _status(client, confused) == 401


async def test_a_tampered_payload_is_401(client, partner):
    p = await partner()
    header, payload, signature = _parts(p.token)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["organisation"] = "une-autre-organisation"
    assert await _status(client, f"{header}.{_b64(claims)}.{signature}") == 401


async def test_a_disabled_organisation_makes_its_tokens_fail_at_once(client, partner, db):
    p = await partner()
    assert await _status(client, p.token) == 200
    with db.write() as session:
        organisation = session.get(Organisation, p.organisation_id)
        organisation.actif = False
        session.add(organisation)
    assert await _status(client, p.token) == 401


# -- key rotation and metadata ------------------------------------------------------------------


async def test_rotated_keys_keep_old_tokens_valid_until_the_old_key_is_retired(
    client, partner, app, db, monkeypatch
):
    monkeypatch.setattr(tokens_module, "KEYS_REFRESH_SECONDS", 0.0)
    p = await partner()
    old_kid = app.state.gateway.tokens.keys.kid
    with db.write() as session:
        new_kid = keys.rotate(session).kid
    published = (await client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in published["keys"]} >= {old_kid, new_kid}
    assert await _status(client, p.token) == 200, "a token of the previous key still verifies"
    fresh = await partner()
    assert jws.extract_compact(fresh.token.encode()).headers()["kid"] == new_kid
    assert await _status(client, fresh.token) == 200
    with db.write() as session:
        with pytest.raises(ValueError, match="rotation"):
            keys.retire(session, new_kid)
        keys.retire(session, old_kid)
    assert await _status(client, p.token) == 401
    assert await _status(client, fresh.token) == 200


async def test_a_key_rotated_by_another_worker_is_learnt_on_first_sight(client, partner, app, db):
    """Tokens signed by a key this worker has not read yet verify at once (no 60 s wait)."""
    p = await partner()
    other = create_app(app.state.gateway.settings, database=db)
    with db.write() as session:
        keys.rotate(session)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as peer:
            response = await peer.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(p.client_id, p.secret),
            )
    token = response.json()["access_token"]
    assert (
        jws.extract_compact(token.encode()).headers()["kid"] != app.state.gateway.tokens._keys.kid
    )
    assert await _status(client, token) == 200


async def test_the_authorization_server_publishes_its_metadata(client, settings):
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == settings.issuer
    assert metadata["token_endpoint"].endswith("/oauth/token")
    assert metadata["jwks_uri"].endswith("/.well-known/jwks.json")
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


# -- scopes derived from the matrix -------------------------------------------------------------


async def token_with_scope(client, p, scope):
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(p.client_id, p.secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_client_gets_the_scopes_of_its_rights_and_no_more(client, partner):
    caf = await partner("caf_msa")
    granted = await token_with_scope(client, caf, "carnets.lecture carnets.export administration")
    assert granted["scope"] == "carnets.lecture", "a CAF exports nothing and administers nothing"
    everything = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(caf.client_id, caf.secret)
    )
    assert everything.json()["scope"] == "carnets.lecture carnets.ecriture carnets.identification"


async def test_a_read_only_token_cannot_write(client, partner):
    p = await partner()
    carnet_id = (
        await client.post(
            "/v1/carnets",
            json={"personne": {"nom": "A", "prenom": "B", "date_naissance": "1990-01-01"}},
            headers=p.headers,
        )
    ).json()["id"]
    token = (await token_with_scope(client, p, "carnets.lecture"))["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Finalite": "accompagnement"}
    assert (await client.get(f"/v1/carnets/{carnet_id}", headers=headers)).status_code == 200
    refused = await client.post(
        f"/v1/carnets/{carnet_id}/contributions", json={"droits": {"are": True}}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "portee_insuffisante"
    assert 'scope="carnets.ecriture"' in refused.headers["www-authenticate"]


async def test_the_metadata_lists_the_scopes(client):
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["scopes_supported"] == [
        "carnets.lecture",
        "carnets.ecriture",
        "carnets.export",
        "carnets.identification",
        "administration",
    ]
