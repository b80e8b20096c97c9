"""Free text as a category of its own (``texte_libre``), from an attacker's side: its author and
the referent structure hear of every change to it (feed, webhooks) and see it in their journal;
a partner that is not served it can neither erase it by sending back what it read, nor learn it
from a write's answer. Each test failed on the first version of the category (1d4c39f)."""

import json

import pytest
from sqlalchemy import text

from tests.gateway.payloads import body, carnet, contribute, join, new_notebook, personne
from tests.gateway.receiver import serve
from tests.gateway.test_embedding import queued
from tests.gateway.test_free_text import ORIENTATION, SECRET, WRITTEN, arrange


@pytest.fixture
def receiver():
    yield from serve()


def action_done():
    """WRITTEN's axes again, its out-of-referential action now done: its objective is
    unchanged, the action alone (free text whole) changes."""
    axes = json.loads(json.dumps(WRITTEN["axes"]))
    axes[0]["objectifs"][0]["actions"][0]["statut"] = "realisee"
    return {"axes": axes}


async def designate_referent(client, departement, carnet_id, organisation):
    designated = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={"organisation_id": organisation.organisation_id, "role": "referent"},
        headers=departement.headers,
    )
    assert designated.status_code == 201, designated.text


async def feed_end(client, p):
    """The cursor at the end of ``p``'s change feed."""
    cursor = None
    while True:
        params = {"limite": 1000} | ({"apres": cursor} if cursor else {})
        page = await client.get("/v1/changements", params=params, headers=p.headers)
        assert page.status_code == 200, page.text
        cursor = page.json()["suivant"]
        if page.json()["fin"]:
            return cursor


async def feed_after(client, p, cursor):
    page = await client.get(
        "/v1/changements", params={"apres": cursor, "limite": 1000}, headers=p.headers
    )
    assert page.status_code == 200, page.text
    return page.json()["elements"]


# -- 1. A change of free text alone is left out of the feed and of the webhooks -----------------


async def test_a_change_of_free_text_alone_reaches_the_feed_of_its_author_and_the_referent(
    client, partner
):
    carnet_id, departement, mission_locale, ccas = await arrange(client, partner)
    await designate_referent(client, departement, carnet_id, ccas)
    cursors = {"auteur": await feed_end(client, mission_locale)}
    cursors["referent"] = await feed_end(client, ccas)
    done = await contribute(client, mission_locale, carnet_id, action_done())
    assert done.status_code == 200, done.text
    assert done.json()["resultat"]["appliques"] == ["/axes/0/objectifs/0/actions/0"]
    version = done.json()["version"]
    # Both are served the change on a read...
    for reader in (mission_locale, ccas):
        view = (await client.get(f"/v1/carnets/{carnet_id}", headers=reader.headers)).json()
        [action] = view["axes"][0]["objectifs"][0]["actions"]
        assert action["statut"] == "realisee"
    # ...but the feed, which they follow to know what to read again, never lists it: the
    # change's mask holds texte_libre alone, and the feed matches it against guard.readable,
    # which never holds texte_libre (neither for the author nor for the referent structure).
    listed = {
        who: [(c["carnet_id"], c["version"]) for c in await feed_after(client, r, cursors[who])]
        for who, r in (("auteur", mission_locale), ("referent", ccas))
    }
    assert listed == {"auteur": [(carnet_id, version)], "referent": [(carnet_id, version)]}


async def test_a_change_of_free_text_alone_is_pushed_to_its_author_s_subscription(
    client, partner, receiver, db
):
    carnet_id, _, mission_locale, _ = await arrange(client, partner)
    subscribed = await client.post(
        "/v1/abonnements", json={"url": receiver.url}, headers=mission_locale.headers
    )
    assert subscribed.status_code == 201, subscribed.text
    done = await contribute(client, mission_locale, carnet_id, action_done())
    assert done.status_code == 200, done.text
    # outbox.enqueue: touched & actor.readable is empty for a texte_libre-only change.
    assert queued(db, subscribed.json()["id"]) == 1


# -- 2. A partner sending back the orientation it is served erases the author's text ---------


async def test_sending_back_the_orientation_one_is_served_keeps_its_author_s_free_text(
    client, partner
):
    carnet_id, departement, _, ccas = await arrange(client, partner)
    served = await client.get(f"/v1/carnets/{carnet_id}/orientation", headers=ccas.headers)
    assert served.status_code == 200, served.text
    orientation = served.json()["orientation"]
    assert "motif" not in orientation  # withheld: the département wrote it
    # The CCAS's system sends back what it read (a read-modify-write of the unit, which
    # is replaced as a whole): it never saw the motif, so it cannot keep it.
    sent = await client.patch(
        f"/v1/carnets/{carnet_id}/orientation",
        content=body(orientation),
        headers=ccas.headers,
    )
    assert sent.status_code == 200, sent.text
    author = await client.get(f"/v1/carnets/{carnet_id}", headers=departement.headers)
    view = author.json()
    assert view["orientation"].get("motif", "").startswith(SECRET), (
        "the département's free text was erased by a partner that was never served it",
        view["provenance"]["/orientation"]["source"],
    )


# -- 3. The merge's answer is an oracle on another organisation's free text ------------------


async def test_a_write_answer_does_not_confirm_a_guess_of_another_s_orientation_text(
    client, partner
):
    """Without erasing anything: a guess of the département's orientation, with an
    identifier the merge ignores as obsolete but which another notebook holds. A right guess
    changes nothing (200, the early return of _apply); a wrong one changes the orientation,
    reaches the identifier check after the merge and is rolled back (409)."""
    departement = await partner("departement")
    document = carnet(**ORIENTATION) | {"observe_le": "2020-01-01T00:00:00Z"}
    carnet_id = await new_notebook(client, departement, document)
    ccas = await partner("ccas_cias")
    await join(client, ccas, carnet_id)

    def identified(value):
        return personne(
            identifiants={"si_departement": {"departement": "26", "identifiant": value}}
        )

    # The CCAS records its identifier of the person now, and another person's elsewhere.
    own = await contribute(client, ccas, carnet_id, {"personne": identified("CCAS-1")})
    assert own.status_code == 200, own.text
    other = carnet(personne(nom="Autre", prenom="Personne"))
    other["personne"]["identifiants"] = identified("CCAS-2")["identifiants"]
    await new_notebook(client, ccas, other)

    async def guess(motif):
        orientation = dict(ORIENTATION["orientation"], motif=motif)
        return await contribute(
            client,
            ccas,
            carnet_id,
            {
                "observe_le": "2021-01-01T00:00:00Z",
                "personne": identified("CCAS-2"),
                "orientation": orientation,
            },
        )

    wrong = await guess("Suivi ordinaire")
    right = await guess(ORIENTATION["orientation"]["motif"])
    # Nothing was changed either way: the département's text is intact...
    view = (await client.get(f"/v1/carnets/{carnet_id}", headers=departement.headers)).json()
    assert view["orientation"]["motif"] == ORIENTATION["orientation"]["motif"]
    # ...and the CCAS, which is never served it, cannot tell which guess was right.
    assert wrong.status_code == right.status_code, (wrong.text, right.text)


# -- 4. The organisation's own journal hides the free text it was served ----------------------


async def test_the_access_journal_shows_the_free_text_the_organisation_was_served(
    client, partner, db
):
    carnet_id, _, mission_locale, _ = await arrange(client, partner)
    read = await client.get(f"/v1/carnets/{carnet_id}", headers=mission_locale.headers)
    assert SECRET.encode() in read.content
    with db.read() as session:
        stored = session.execute(
            text(
                "SELECT categories FROM journal WHERE carnet_id = :id AND action = 'lecture'"
                " AND organisation_id = :org"
            ),
            {"id": carnet_id, "org": mission_locale.organisation_id},
        ).all()
    [(categories,)] = stored
    assert "texte_libre" in (json.loads(categories) if isinstance(categories, str) else categories)
    journal = await client.get(f"/v1/carnets/{carnet_id}/journal", headers=mission_locale.headers)
    assert journal.status_code == 200, journal.text
    [entry] = [e for e in journal.json()["elements"] if e["action"] == "lecture"]
    # journal_page filters by guard.readable, which never holds texte_libre.
    assert "texte_libre" in entry["categories"]
