import json
from tests.gateway.payloads import body, carnet
async def test_seq(client, partner, db):
    p = await partner()
    r = await client.post("/v1/carnets", content=body(carnet()), headers=p.headers)
    cid = r.json()["id"]
    for doc in [{"evenements": [{"id": "e1", "type": "autre", "date": "2026-01-05T10:00:00Z", "libelle": "A\u0000B"}]}, {"coordonnees": {"adresse": {"ligne1": "1 rue\u0000", "code_postal": "26000", "commune": "Valence"}}}]:
        try:
            r = await client.post(f"/v1/carnets/{cid}/contributions", content=json.dumps(doc).encode(), headers=p.headers)
            print("NUL", db.dialect, r.status_code, r.text[:200])
        except Exception as e:
            print("NUL EXC", db.dialect, type(e).__name__, str(e)[:200])
