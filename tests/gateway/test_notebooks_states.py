"""Writers keep the states they committed: never a state another process replaced, never one of
a transaction that rolled back."""

import httpx

from gateway.app import create_app
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import carnet, contribute, new_notebook, personne, view


def rsa(etat):
    return {"rsa": {"etat": etat}}


async def test_a_write_by_another_gateway_process_is_not_lost(settings, db, client, partner):
    """Two gateway processes on one database: each one's next write starts from the stored state,
    not from the state it wrote last."""
    p = await partner()
    carnet_id = await new_notebook(client, p)
    first = await contribute(client, p, carnet_id, {"droits": {"are": True}})
    assert first.status_code == 200, first.text

    other = create_app(settings, database=db)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url=BASE_URL) as peer,
    ):
        meanwhile = await contribute(peer, p, carnet_id, {"droits": rsa("rsa_clos")})
        assert meanwhile.status_code == 200, meanwhile.text
        client.accesses.append("POST contributions (peer)")

    last = await contribute(client, p, carnet_id, {"situation": {"rqth": True}})
    assert last.json()["version"] == meanwhile.json()["version"] + 1
    current = await view(client, p, carnet_id)
    assert current["droits"]["are"] is True
    assert current["droits"]["rsa"]["etat"] == "rsa_clos"
    assert current["situation"]["rqth"] is True


async def test_a_refused_write_leaves_nothing_behind_for_the_next_one(client, partner):
    """A contribution merged in memory then refused (an identifier of another notebook) is rolled
    back: the next write of the same notebook does not carry its values."""
    p = await partner()
    ids = {"france_travail": {"identifiant": "FT-STATE-1"}}
    await new_notebook(client, p, carnet(personne(nom="Un", identifiants=ids)))
    carnet_id = await new_notebook(client, p, carnet(personne(nom="Deux")))
    await contribute(client, p, carnet_id, {"droits": {"are": False}})

    refused = await contribute(
        client,
        p,
        carnet_id,
        {
            "personne": personne(nom="Deux", identifiants=ids),
            "droits": {"are": True, "ass": True},
        },
    )
    assert refused.status_code == 409, refused.text

    after = await contribute(client, p, carnet_id, {"situation": {"rqth": True}})
    assert after.status_code == 200
    current = await view(client, p, carnet_id)
    assert current["droits"]["are"] is False
    assert "ass" not in current["droits"]
    assert current["version"] == after.json()["version"]
