"""No personal data in logs, journals or error answers: ids, codes and pointers only."""

import logging

from sqlmodel import select

from gateway.storage.tables import IdentityConflict, JournalEntry
from tests.gateway.payloads import NIR_A, NIR_B, body, carnet, contribute, new_notebook, personne

NAME, FIRST_NAME, BIRTH = "Quenouille", "Aurélie", "1990-04-09"  # as NIR_A says
EMAIL, PHONE = "aurelie.quenouille@example.org", "+33612345678"


async def test_personal_data_never_reaches_logs_journal_or_error_answers(
    client, partner, db, caplog
):
    caplog.set_level(logging.DEBUG)
    p = await partner()
    who = personne(nom=NAME, prenom=FIRST_NAME, date_naissance=BIRTH, nir=NIR_A)
    carnet_id = await new_notebook(
        client, p, carnet(who, coordonnees={"courriel": EMAIL, "telephones": [PHONE]})
    )
    answers = [
        # Invalid values next to valid personal data.
        await contribute(
            client,
            p,
            carnet_id,
            {"coordonnees": {"courriel": "aurelie.quenouille@", "telephones": ["06 12"]}},
        ),
        # The same NIR with another birth date: an identity conflict.
        await client.post(
            "/v1/carnets",
            content=body(carnet(personne(nom=NAME, prenom=FIRST_NAME, nir=NIR_A))),
            headers=p.headers,
        ),
        # A birth date that contradicts the notebook.
        await contribute(
            client, p, carnet_id, {"personne": who | {"date_naissance": "1990-04-10"}}
        ),
        # Outside the caller's need to know.
        await client.get(f"/v1/carnets/{carnet_id}", headers=(await partner("ccas_cias")).headers),
        await client.post(
            "/v1/carnets/recherche", json={"nir": NIR_A, "date_naissance": BIRTH}, headers=p.headers
        ),
    ]
    assert [a.status_code for a in answers[:4]] == [422, 409, 409, 404]
    personal = (
        NAME,
        FIRST_NAME,
        EMAIL,
        PHONE,
        NIR_A,
        NIR_A[:13],
        NIR_B[:13],
        "aurelie.quenouille@",
    )
    for answer in answers[:4]:
        for value in personal:
            assert value not in answer.text, f"{value} echoed in a {answer.status_code} answer"
    with db.read() as session:
        stored = [str(r.model_dump()) for r in session.exec(select(JournalEntry)).all()]
        stored += [str(r.model_dump()) for r in session.exec(select(IdentityConflict)).all()]
    assert stored
    logged = caplog.text
    for value in personal:
        assert value not in logged, f"{value} in the logs"
        assert not any(value in row for row in stored), f"{value} in the journal or conflicts"
