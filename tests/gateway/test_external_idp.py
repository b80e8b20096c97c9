"""Access tokens of an external identity provider, mapped to registered clients."""

import time

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway.app import create_app
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from tests.gateway.conftest import BASE_URL

IDP = "https://idp.example.org/realms/insertion"
JWKS = IDP + "/protocol/openid-connect/certs"


@pytest.fixture
def idp_key():
    return RSAKey.generate_key(2048, parameters={"kid": "idp-1"})


@pytest.fixture
async def idp_client(db, idp_key):
    settings = Settings(
        environment="test",
        issuer=BASE_URL,
        idp_issuer=IDP,
        idp_jwks_uri=JWKS,
        idp_audience="carnet-de-bord",
        idp_client_claim="azp",
    )
    application = create_app(settings, database=db)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(JWKS).mock(return_value=httpx.Response(200, json=KeySet([idp_key]).as_dict()))
        mock.route(host="localhost").pass_through()
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                yield client


def registered(db, operateur=False):
    with db.write() as session:
        organisation = create_organisation(
            session, nom="CD via IdP", type_acteur="departement", territoires=["26"]
        )
        return create_client(
            session, organisation_id=organisation.id, nom="si", operateur=operateur
        ).client.client_id


def idp_token(key, **changes):
    claims = {
        "iss": IDP,
        "aud": "carnet-de-bord",
        "azp": "inconnu",
        "exp": int(time.time()) + 300,
        "iat": int(time.time()),
        "scope": "carnets.lecture carnets.ecriture",
    } | changes
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


async def status(client, token, path="/v1/carnets"):
    headers = {"Authorization": f"Bearer {token}", "Finalite": "accompagnement"}
    return (await client.get(path, headers=headers)).status_code


async def test_a_token_of_the_identity_provider_acts_as_the_registered_client(
    idp_client, db, idp_key
):
    client_id = registered(db)
    assert await status(idp_client, idp_token(idp_key, azp=client_id)) == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "autre"},
        {"exp": int(time.time()) - 300},
        {"azp": "client-inconnu"},
        {"azp": None},
    ],
    ids=["audience", "expired", "unknown-client", "no-client-claim"],
)
async def test_bad_identity_provider_tokens_are_401(idp_client, db, idp_key, changes):
    client_id = registered(db)
    claims = {"azp": client_id} | changes
    assert await status(idp_client, idp_token(idp_key, **claims)) == 401


async def test_a_token_signed_by_another_key_is_401(idp_client, db):
    client_id = registered(db)
    forged = idp_token(RSAKey.generate_key(2048, parameters={"kid": "idp-1"}), azp=client_id)
    assert await status(idp_client, forged) == 401


async def test_the_provider_cannot_grant_more_than_the_client_holds(idp_client, db, idp_key):
    client_id = registered(db)
    token = idp_token(idp_key, azp=client_id, scope="carnets.lecture administration")
    assert await status(idp_client, token, "/v1/admin/organisations") == 403
    operator = registered(db, operateur=True)
    token = idp_token(idp_key, azp=operator, scope="carnets.lecture administration")
    assert await status(idp_client, token, "/v1/admin/organisations") == 200


async def test_the_providers_sub_names_the_agent(idp_client, db, idp_key):
    """The person at the keyboard, as the provider names it: the agent registered with that
    sub acts (served the reserved categories it is habilitated for, named in the journal);
    an unregistered sub acts without an agent; a sub smuggled under the gateway's own claim
    name is ignored."""
    from datetime import UTC, datetime

    from sqlmodel import col, select

    from gateway.auth.tokens import AGENT_SUB
    from gateway.storage import agents
    from gateway.storage.tables import JournalEntry, Organisation

    client_id = registered(db)
    with db.write() as session:
        from gateway.storage.tables import Client

        organisation_id = session.get(Client, client_id).organisation_id
        assert session.get(Organisation, organisation_id) is not None
        agent = agents.create(
            session,
            organisation_id=organisation_id,
            nom="Agent",
            courriel="agent@example.org",
            role="conseiller",
            habilitations=["justice", "sante_handicap"],
            at=datetime.now(UTC),
            sub="idp-user-42",
        ).id
    health = {"personne": {"nom": "Sub", "prenom": "Test", "date_naissance": "1990-04-15"}}
    health["situation"] = {"rqth": True}

    def headers(**claims):
        token = idp_token(idp_key, azp=client_id, **claims)
        return {"Authorization": f"Bearer {token}", "Finalite": "accompagnement"}

    created = await idp_client.post("/v1/carnets", json=health, headers=headers(sub="idp-user-42"))
    assert created.status_code == 201, created.text
    carnet_id = created.json()["id"]
    named = await idp_client.get(f"/v1/carnets/{carnet_id}", headers=headers(sub="idp-user-42"))
    assert named.json()["situation"]["rqth"] is True
    for anonymous in (headers(sub="inconnu"), headers(**{AGENT_SUB: "idp-user-42"})):
        view = (await idp_client.get(f"/v1/carnets/{carnet_id}", headers=anonymous)).json()
        assert "rqth" not in view.get("situation", {})
    with db.read() as session:
        entries = session.exec(
            select(JournalEntry)
            .where(JournalEntry.carnet_id == carnet_id)
            .order_by(col(JournalEntry.seq))
        ).all()
    assert [e.agent for e in entries] == [agent, agent, None, None]
