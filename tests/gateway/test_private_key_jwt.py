"""private_key_jwt (RFC 7523): clients registered with their public keys, inline or by URL."""

import time
import uuid

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway.organisations.service import InvalidOrganisation, create_client, create_organisation
from tests.gateway.conftest import BASE_URL

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWKS_URI = "https://si.example.org/.well-known/jwks.json"


@pytest.fixture
def key():
    return RSAKey.generate_key(2048, parameters={"kid": "cle-si-1"})


def register(db, **keys):
    with db.write() as session:
        organisation = create_organisation(
            session, nom="Mission locale", type_acteur="mission_locale", territoires=["26"]
        )
        return create_client(session, organisation_id=organisation.id, nom="si", **keys)


def assertion(client_id, key, **changes):
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{BASE_URL}/oauth/token",
        "iat": int(time.time()),
        "exp": int(time.time()) + 120,
        "jti": str(uuid.uuid4()),
    } | changes
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def refused(response):
    """invalid_client: 400, or 401 when the client tried HTTP authentication (RFC 6749 §5.2)."""
    return response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


async def token(client, client_id, signed):
    return await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        },
    )


async def test_a_client_signs_in_with_its_registered_key(client, db, key):
    created = register(db, jwks=KeySet([key]).as_dict(private=False))
    assert created.secret == ""
    client_id = created.client.client_id
    signed = assertion(client_id, key)
    response = await token(client, client_id, signed)
    assert response.status_code == 200, response.text
    access = response.json()["access_token"]
    listing = await client.get(
        "/v1/carnets", headers={"Authorization": f"Bearer {access}", "Finalite": "accompagnement"}
    )
    assert listing.status_code == 200
    replay = await token(client, client_id, signed)
    assert refused(replay), "an assertion is used once"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "https://ailleurs.example/oauth/token"},
        {"exp": int(time.time()) - 300},
        {"iss": "un-autre"},
        {"jti": None},
    ],
    ids=["wrong-audience", "expired", "issuer-not-subject", "no-jti"],
)
async def test_bad_assertions_are_invalid_client(client, db, key, changes):
    client_id = register(db, jwks=KeySet([key]).as_dict(private=False)).client.client_id
    claims = {k: v for k, v in changes.items() if v is not None}
    signed = assertion(client_id, key, **claims)
    if changes.get("jti", "") is None:
        parts = jwt.decode(signed, key).claims
        parts.pop("jti")
        signed = jwt.encode({"alg": "RS256", "kid": key.kid}, parts, key)
    assert refused(await token(client, client_id, signed))


async def test_an_assertion_signed_by_another_key_or_a_secret_is_refused(client, db, key):
    created = register(db, jwks=KeySet([key]).as_dict(private=False))
    client_id = created.client.client_id
    other = RSAKey.generate_key(2048, parameters={"kid": "cle-si-1"})
    assert refused(await token(client, client_id, assertion(client_id, other)))
    by_secret = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "")
    )
    assert by_secret.status_code == 401


@respx.mock
async def test_keys_published_at_a_url_are_fetched_and_kept(client, db, key):
    route = respx.get(JWKS_URI).mock(
        return_value=httpx.Response(200, json=KeySet([key]).as_dict(private=False))
    )
    client_id = register(db, jwks_uri=JWKS_URI).client.client_id
    for _ in range(2):
        response = await token(client, client_id, assertion(client_id, key))
        assert response.status_code == 200, response.text
    assert route.call_count == 1, "the keys are kept a while"


@respx.mock
async def test_unreachable_keys_are_invalid_client_not_a_server_error(client, db, key):
    respx.get(JWKS_URI).mock(return_value=httpx.Response(503))
    client_id = register(db, jwks_uri=JWKS_URI).client.client_id
    assert refused(await token(client, client_id, assertion(client_id, key)))


def test_registration_refuses_private_keys_and_plain_http(db, key):
    with pytest.raises(InvalidOrganisation, match="privée"):
        register(db, jwks=KeySet([key]).as_dict(private=True))
    with pytest.raises(InvalidOrganisation, match="https"):
        register(db, jwks_uri="http://si.example.org/jwks.json")


async def test_the_metadata_announces_private_key_jwt(client):
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == [
        "RS256",
        "ES256",
        "PS256",
    ]
