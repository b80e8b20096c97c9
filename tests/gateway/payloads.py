"""Made-up payloads for the notebook tests."""

import json
from datetime import date, timedelta

#: Made-up NIRs (département 99) of persons born in April 1990, as ``personne()`` is.
NIR_A = "290049999900161"  # with its key
NIR_A13 = NIR_A[:13]


def nir15(nir13: str) -> str:
    from referential import nir_key

    return f"{nir13}{nir_key(nir13):02d}"


NIR_B = nir15("1900499999002")

#: Three days on from today here is the future anywhere on Earth (UTC-12 to UTC+14).
FUTURE = (date.today() + timedelta(days=3)).isoformat()
#: Fields of ``personne()`` whose birth date is refused, and the code of the error (located at
#: its ``date_naissance``).
REFUSED_BIRTH_DATES = [
    ({"date_naissance": FUTURE}, "date_naissance_future"),
    ({"date_naissance": "1899-12-31"}, "date_naissance_trop_ancienne"),
    ({"nir": NIR_A, "date_naissance": "1991-04-15"}, "date_naissance_incoherente_nir"),
    ({"nir": NIR_A, "date_naissance": "1990-05-15"}, "date_naissance_incoherente_nir"),
]
REFUSED_BIRTH_DATE_IDS = ["future", "before_1900", "not_the_nir_year", "not_the_nir_month"]


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


def joining_record(type_acteur):
    """Something a partner of ``type_acteur`` may record once it follows the person."""
    if type_acteur == "caf_msa":
        return {"droits": {"prime_activite": True}}
    event = {
        "id": f"rattachement-{type_acteur}",
        "type": "autre",
        "date": "2026-01-02T09:00:00Z",
        "libelle": "Rattachement au carnet",
    }
    return {"evenements": [event]}


async def join(client, p, carnet_id, document=None, record=None, territoire="26"):
    """``p`` identifies the person of an existing notebook and records something about them
    (``record``, by default :func:`joining_record`). Outside its need to know, identifying
    only discovers the notebook: ``p`` asks to join its follow-up group, the territory's
    département (the first one registered there) accepts, and ``p`` records again."""
    document = (document or carnet()) | (record or joining_record(p.type_acteur))
    response = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == carnet_id
    if response.json().get("acces") != "decouverte":
        return
    asked = await client.post(
        f"/v1/carnets/{carnet_id}/rattachements",
        json={"motif": "Accompagnement social engagé"},
        headers=p.headers,
    )
    assert asked.status_code == 201, asked.text
    decider = client.departements[territoire]
    decided = await client.post(
        f"/v1/carnets/{carnet_id}/rattachements/{asked.json()['id']}/decision",
        json={"decision": "accepte"},
        headers=decider.headers,
    )
    assert decided.status_code == 200, decided.text
    again = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    assert again.status_code == 200, again.text
    assert again.json().get("acces") != "decouverte", again.text


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
