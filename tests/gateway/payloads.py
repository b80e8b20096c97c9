"""Made-up payloads for the notebook tests."""

import json

NIR_A = "290049999900161"  # made-up, département 99, correct key
NIR_A13 = NIR_A[:13]


def nir15(nir13: str) -> str:
    from referential import nir_key

    return f"{nir13}{nir_key(nir13):02d}"


NIR_B = nir15("1880999999002")


def personne(**overrides):
    base = {"nom": "Exemple", "prenom": "Héloïse", "date_naissance": "1990-04-15"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def carnet(personne_=None, **sections):
    body = {"personne": personne_ or personne()}
    body.update(sections)
    return body


def body(document) -> bytes:
    return json.dumps(document).encode()


def at(moment: str) -> str:
    return f"{moment}T12:00:00Z"


async def new_notebook(client, p, document=None):
    response = await client.post(
        "/v1/carnets", content=body(document or carnet()), headers=p.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def join(client, p, carnet_id, document=None):
    """``p`` identifies the person of an existing notebook: it enters its need to know."""
    response = await client.post(
        "/v1/carnets", content=body(document or carnet()), headers=p.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == carnet_id


async def contribute(client, p, carnet_id, document, **headers):
    return await client.post(
        f"/v1/carnets/{carnet_id}/contributions",
        content=body(document),
        headers=p.headers | headers,
    )


async def view(client, p, carnet_id):
    response = await client.get(f"/v1/carnets/{carnet_id}", headers=p.headers)
    assert response.status_code == 200, response.text
    return response.json()
