"""OAuth2 client credentials and bearer tokens on the notebook API."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.storage.tables import Client


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
    tokens = app.state.tokens
    claims = jwt.decode(p.token, tokens.keys.public).claims
    claims.update(exp=int(time.time()) - 120, iat=int(time.time()) - 800)
    expired = jwt.encode({"alg": "RS256", "typ": "at+jwt"}, claims, tokens.keys.private)
    response = await client.get("/v1/carnets", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_token_signed_by_another_key_is_401(client, partner, app):
    p = await partner()
    claims = jwt.decode(p.token, app.state.tokens.keys.public).claims
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
