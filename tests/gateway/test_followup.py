"""Need to know from recorded relationships: discovery without content, join requests and
their decisions, the follow-up group designated by the département or by an orientation
decision — never from writing."""

import asyncio

import pytest
from sqlmodel import col, select

from gateway.settings import Settings
from gateway.storage.tables import JournalEntry, Organisation
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import NIR_A, body, carnet, contribute, new_notebook, nir15, personne

EVENT = {
    "id": "ccas-1",
    "type": "autre",
    "date": "2026-01-02T09:00:00Z",
    "libelle": "Premier entretien",
}
FULL = carnet(
    personne(nir=NIR_A),
    situation={"rqth": True},
    diagnostic={"situations": [{"code": "difficulte_administrative.difficulte_ordre_juridique"}]},
)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        environment="test",
        issuer=BASE_URL,
        identification_echecs_max=4,
        rattachement_automatique={"27": ["mission_locale"]},
    )


async def identify(client, p, document):
    return await client.post("/v1/carnets", content=body(document), headers=p.headers)


async def ask(client, p, carnet_id, motif="Accompagnement social engagé"):
    return await client.post(
        f"/v1/carnets/{carnet_id}/rattachements", json={"motif": motif}, headers=p.headers
    )


async def decide(client, p, carnet_id, demande_id, decision="accepte"):
    return await client.post(
        f"/v1/carnets/{carnet_id}/rattachements/{demande_id}/decision",
        json={"decision": decision},
        headers=p.headers,
    )


async def read(client, p, carnet_id, path=""):
    return await client.get(f"/v1/carnets/{carnet_id}{path}", headers=p.headers)


async def designate(client, p, carnet_id, organisation_id, role="membre"):
    return await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={"organisation_id": organisation_id, "role": role},
        headers=p.headers,
    )


# -- discovery without content -------------------------------------------------------------------


async def test_a_partner_knowing_a_name_and_birth_date_only_discovers_the_notebook(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    ccas = await partner("ccas_cias")
    found = await identify(
        client, ccas, carnet(personne(nom="EXEMPLE", prenom="Heloise"), evenements=[EVENT])
    )
    assert found.status_code == 200, found.text
    answer = found.json()
    assert answer == {
        "id": carnet_id,
        "cree": False,
        "acces": "decouverte",
        "groupe_suivi": [],
        "rattachement": f"/v1/carnets/{carnet_id}/rattachements",
    }
    # Nothing was applied, and the notebook stays outside the CCAS's need to know.
    assert (await read(client, ccas, carnet_id)).status_code == 404
    assert (await read(client, ccas, carnet_id, "/situation")).status_code == 404
    view = (await read(client, departement, carnet_id)).json()
    assert view["version"] == 1
    assert view["personne"]["nom"] == "Exemple"
    assert not view.get("evenements")
    written = await contribute(client, ccas, carnet_id, {"evenements": [EVENT]})
    assert written.status_code == 404


async def test_discovery_names_who_follows_the_person_and_how_to_reach_them(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion", nom="Association Tremplin")
    with db.write() as session:
        organisation = session.get(Organisation, structure.organisation_id)
        organisation.contact = "accueil@tremplin.example"
        session.add(organisation)
    assert (
        await designate(client, departement, carnet_id, structure.organisation_id, "referent")
    ).status_code == 201
    ccas = await partner("ccas_cias")
    answer = (await identify(client, ccas, carnet())).json()
    # Who to contact, not since when, why, nor the kind of structure.
    assert answer["groupe_suivi"] == [
        {"nom": "Association Tremplin", "role": "referent", "contact": "accueil@tremplin.example"}
    ]


async def test_discovery_does_not_reveal_a_disability_follow_up(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    cap_emploi = await partner("cap_emploi")
    await designate(client, departement, carnet_id, cap_emploi.organisation_id, "referent")
    ccas = await partner("ccas_cias")
    assert (await identify(client, ccas, carnet())).json()["groupe_suivi"] == []


async def test_a_nir_is_sent_only_by_the_kinds_that_match_by_it(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    ccas = await partner("ccas_cias")
    refused = await identify(client, ccas, carnet(personne(nir=NIR_A, nom="Autre")))
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["code"] == "nir_non_autorise"
    assert problem["errors"][0]["pointer"] == "/personne/nir"
    searched = await client.post(
        "/v1/carnets/recherche",
        json={"nir": NIR_A, "date_naissance": "1990-04-15"},
        headers=ccas.headers,
    )
    assert searched.status_code == 403
    assert searched.json()["code"] == "nir_non_autorise"
    assert (await read(client, departement, carnet_id)).json()["personne"]["nom"] == "Exemple"


async def test_a_lookup_by_nir_never_overwrites_the_names(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    france_travail = await partner("france_travail")
    found = await identify(
        client, france_travail, carnet(personne(nir=NIR_A, nom="Inventé", prenom="Autre"))
    )
    assert found.json()["acces"] == "decouverte"
    # Even for who may record identity: matching fields only find.
    again = await identify(
        client, departement, carnet(personne(nir=NIR_A, nom="Inventé", prenom="Autre"))
    )
    assert again.status_code == 200
    view = (await read(client, departement, carnet_id)).json()
    assert (view["personne"]["nom"], view["personne"]["prenom"]) == ("Exemple", "Héloïse")


# -- no oracle -------------------------------------------------------------------------------


def _comparable(response):
    problem = response.json()
    problem.pop("instance", None)
    problem.pop("request_id", None)
    return response.status_code, sorted(response.headers.keys() - {"content-length"}), problem


async def test_identification_failures_are_one_answer(client, partner):
    """Several candidates, and a known NIR with another birth date: one answer."""
    departement = await partner("departement")
    born = {"nom": "Homonyme", "prenom": "Alix", "date_naissance": "1988-09-01"}
    for nir in ("1880999999003", "1880999999004"):
        await new_notebook(client, departement, carnet(personne(nir=nir15(nir), **born)))
    france_travail = await partner("france_travail")
    several = await identify(client, france_travail, carnet(personne(**born)))
    wrong_birth_date = await identify(
        client,
        france_travail,
        carnet(personne(nir=nir15("1880999999003"), **born | {"date_naissance": "1988-09-02"})),
    )
    for answer in (several, wrong_birth_date):
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "identification_impossible"
    assert _comparable(several) == _comparable(wrong_birth_date)


async def test_a_person_known_in_another_territory_is_unknown_here(client, partner):
    """A notebook is a département's: a NIR or an identifier held in another territory
    designates nothing here, and the answer is that of a person never seen (no oracle)."""
    elsewhere = await partner("departement", ["27"])
    held = {"france_travail": {"identifiant": "FT-AILLEURS-27"}}
    theirs = await new_notebook(
        client, elsewhere, carnet(personne(nir=NIR_A, identifiants=held), territoire="27")
    )
    france_travail = await partner("france_travail", ["26", "27"])
    known = await identify(
        client, france_travail, carnet(personne(nir=NIR_A, identifiants=held), territoire="26")
    )
    never_seen = await identify(
        client,
        france_travail,
        carnet(
            personne(nir=nir15("2920599999001"), nom="Jamais", date_naissance="1992-05-01"),
            territoire="26",
        ),
    )
    for answer in (known, never_seen):
        assert answer.status_code == 201, answer.text
        assert answer.json()["cree"] is True
        assert answer.json()["carnet"]["territoire"] == "26"
    assert known.json()["id"] != theirs
    # The notebook of 27 is untouched, and still the one its département finds.
    again = await identify(client, elsewhere, carnet(personne(nir=NIR_A), territoire="27"))
    assert again.json()["id"] == theirs
    assert again.json()["version"] == 1


async def test_failed_identifications_are_throttled_and_alerted(client, partner, db):
    departement = await partner("departement")
    await new_notebook(client, departement, carnet(personne(nir=NIR_A)))
    france_travail = await partner("france_travail")
    wrong_birth_date = carnet(personne(nir=NIR_A, date_naissance="1990-04-16"))
    for _ in range(4):
        failed = await identify(client, france_travail, wrong_birth_date)
        assert failed.status_code == 409
    refused = await identify(client, france_travail, carnet(personne(nom="Quelconque")))
    assert refused.status_code == 429
    assert refused.json()["code"] == "trop_d_echecs_identification"
    assert int(refused.headers["Retry-After"]) > 0
    with db.read() as session:
        alerts = session.exec(
            select(JournalEntry).where(JournalEntry.resultat == "seuil_echecs_identification")
        ).all()
    assert [a.organisation_id for a in alerts] == [france_travail.organisation_id]


# -- joining -------------------------------------------------------------------------------------


async def test_a_join_request_opens_nothing_until_accepted(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    ccas = await partner("ccas_cias")
    assert (await identify(client, ccas, carnet())).json()["acces"] == "decouverte"
    asked = await ask(client, ccas, carnet_id)
    assert asked.status_code == 201, asked.text
    assert asked.json()["statut"] == "en_attente"
    assert (await read(client, ccas, carnet_id)).status_code == 404
    assert (await contribute(client, ccas, carnet_id, {"evenements": [EVENT]})).status_code == 404
    again = await ask(client, ccas, carnet_id)
    assert again.status_code == 409
    assert again.json()["code"] == "rattachement_en_attente"
    # The requester sees its own request; who decides sees it too.
    mine = await client.get(f"/v1/carnets/{carnet_id}/rattachements", headers=ccas.headers)
    assert [d["id"] for d in mine.json()["demandes"]] == [asked.json()["id"]]
    # The requester cannot decide for itself.
    self_decided = await decide(client, ccas, carnet_id, asked.json()["id"])
    assert self_decided.status_code == 403
    assert self_decided.json()["code"] == "decision_reservee"
    accepted = await decide(client, departement, carnet_id, asked.json()["id"])
    assert accepted.status_code == 200
    assert accepted.json()["statut"] == "accepte"
    assert (await read(client, ccas, carnet_id)).status_code == 200
    group = await client.get(f"/v1/carnets/{carnet_id}/groupe-de-suivi", headers=ccas.headers)
    assert [(m["organisation"]["id"], m["base"]) for m in group.json()["membres"]] == [
        (ccas.organisation_id, "rattachement_accepte")
    ]
    twice = await decide(client, departement, carnet_id, asked.json()["id"], "refuse")
    assert twice.status_code == 409
    assert twice.json()["code"] == "rattachement_deja_decide"


async def test_a_refused_join_leaves_the_notebook_closed(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    ccas = await partner("ccas_cias")
    asked = await ask(client, ccas, carnet_id)
    refused = await decide(client, departement, carnet_id, asked.json()["id"], "refuse")
    assert refused.json()["statut"] == "refuse"
    assert (await read(client, ccas, carnet_id)).status_code == 404
    assert (await identify(client, ccas, carnet())).json()["acces"] == "decouverte"


async def test_concurrent_decisions_one_wins(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion")
    await designate(client, departement, carnet_id, structure.organisation_id, "referent")
    ccas = await partner("ccas_cias")
    demande = (await ask(client, ccas, carnet_id)).json()["id"]
    answers = await asyncio.gather(
        decide(client, departement, carnet_id, demande, "accepte"),
        decide(client, structure, carnet_id, demande, "refuse"),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]


async def test_the_referent_structure_decides_and_others_may_not(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    referent = await partner("structure_insertion")
    member = await partner("mission_locale")
    await designate(client, departement, carnet_id, referent.organisation_id, "referent")
    await designate(client, departement, carnet_id, member.organisation_id)
    ccas = await partner("ccas_cias")
    demande = (await ask(client, ccas, carnet_id)).json()["id"]
    by_member = await decide(client, member, carnet_id, demande)
    assert by_member.status_code == 403
    stranger = await partner("structure_insertion")
    assert (await decide(client, stranger, carnet_id, demande)).status_code == 404
    assert (await decide(client, referent, carnet_id, demande)).status_code == 200


async def test_a_territory_may_accept_some_kinds_automatically(client, partner, db):
    departement = await partner("departement", ["27"])
    carnet_id = await new_notebook(client, departement, carnet(territoire="27"))
    mission_locale = await partner("mission_locale", ["27"])
    asked = await ask(client, mission_locale, carnet_id)
    assert asked.status_code == 201
    assert asked.json()["statut"] == "accepte"
    assert asked.json()["automatique"] is True
    assert (await read(client, mission_locale, carnet_id)).status_code == 200
    with db.read() as session:
        entry = session.exec(
            select(JournalEntry).where(
                JournalEntry.organisation_id == mission_locale.organisation_id,
                JournalEntry.action == "rattachement",
            )
        ).one()
    assert entry.resultat == "accepte_automatiquement"


async def test_join_requests_are_pushed_to_who_decides(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    subscribed = await client.post(
        "/v1/abonnements",
        json={
            "url": "https://si.example/webhooks",
            "types": ["carnet.rattachement_demande", "carnet.rattachement_decide"],
        },
        headers=departement.headers,
    )
    assert subscribed.status_code == 201, subscribed.text
    ccas = await partner("ccas_cias")
    demande = (await ask(client, ccas, carnet_id)).json()["id"]
    await decide(client, departement, carnet_id, demande)
    from gateway.storage.tables import Delivery

    with db.read() as session:
        kinds = [
            d.type
            for d in session.exec(select(Delivery).order_by(col(Delivery.id))).all()
            if d.carnet_id == carnet_id
        ]
    assert kinds == ["carnet.rattachement_demande", "carnet.rattachement_decide"]


# -- the follow-up group -------------------------------------------------------------------------


async def test_writing_never_brings_a_notebook_into_the_need_to_know(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion")
    designated = await designate(client, departement, carnet_id, structure.organisation_id)
    assert designated.status_code == 201, designated.text
    assert designated.json()["base"] == "mission_territoriale"
    written = await contribute(client, structure, carnet_id, {"evenements": [EVENT]})
    assert written.status_code == 200, written.text
    ended = await client.delete(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi/{designated.json()['id']}",
        headers=departement.headers,
    )
    assert ended.status_code == 200
    assert ended.json()["jusqu_au"] is not None
    assert (await read(client, structure, carnet_id)).status_code == 404
    assert (
        await contribute(client, structure, carnet_id, {"evenements": [EVENT]})
    ).status_code == 404


async def test_a_follow_up_group_typed_into_the_notebook_opens_nothing(client, partner, db):
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    with db.write() as session:
        organisation = session.get(Organisation, structure.organisation_id)
        organisation.siret = "73282932000074"
        session.add(organisation)
    typed = {
        "organisation": {"nom": "Structure", "siret": "73282932000074"},
        "role": "referent",
        "actif": True,
    }
    carnet_id = await new_notebook(
        client, departement, carnet(accompagnement={"groupe_suivi": [typed]})
    )
    assert (await read(client, structure, carnet_id)).status_code == 404


async def test_an_orientation_decision_designates_the_referent_structure(client, partner, db):
    departement = await partner("departement")
    structure = await partner("structure_insertion", nom="Structure référente")
    with db.write() as session:
        organisation = session.get(Organisation, structure.organisation_id)
        organisation.siret = "73282932000074"
        session.add(organisation)
    carnet_id = await new_notebook(client, departement)
    oriented = await contribute(
        client,
        departement,
        carnet_id,
        {
            "orientation": {
                "type": "social",
                "date": "2026-11-02",
                "structure": {"nom": "Structure référente", "siret": "73282932000074"},
            }
        },
    )
    assert oriented.status_code == 200, oriented.text
    view = await read(client, structure, carnet_id)
    assert view.status_code == 200
    assert oriented.headers["ETag"] == view.headers["ETag"]
    (member,) = view.json()["accompagnement"]["groupe_suivi"]
    assert (member["role"], member["organisation"]["nom"]) == ("referent", "Structure référente")
    group = await client.get(f"/v1/carnets/{carnet_id}/groupe-de-suivi", headers=structure.headers)
    assert [(m["role"], m["base"]) for m in group.json()["membres"]] == [
        ("referent", "orientation")
    ]


async def test_only_the_departement_designates(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    member = await partner("structure_insertion")
    await designate(client, departement, carnet_id, member.organisation_id)
    other = await partner("ccas_cias")
    by_member = await designate(client, member, carnet_id, other.organisation_id)
    assert by_member.status_code == 403
    assert by_member.json()["code"] == "designation_reservee"
    assert (await designate(client, other, carnet_id, other.organisation_id)).status_code == 404
    elsewhere = await partner("ccas_cias", ["27"])
    refused = await designate(client, departement, carnet_id, elsewhere.organisation_id)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/organisation_id"


async def test_a_new_referent_leaves_the_previous_one_a_member(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    first = await partner("structure_insertion")
    second = await partner("mission_locale")
    await designate(client, departement, carnet_id, first.organisation_id, "referent")
    await designate(client, departement, carnet_id, second.organisation_id, "referent")
    group = await client.get(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi", headers=departement.headers
    )
    roles = {m["organisation"]["id"]: m["role"] for m in group.json()["membres"]}
    assert roles == {first.organisation_id: "membre", second.organisation_id: "referent"}
    history = await client.get(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi?historique=true", headers=departement.headers
    )
    assert len(history.json()["membres"]) == 3


# -- the journal ---------------------------------------------------------------------------------


async def test_refused_writes_and_replays_are_journaled(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    invalid = await contribute(
        client, departement, carnet_id, {"diagnostic": {"situations": [{"code": "inconnu"}]}}
    )
    assert invalid.status_code == 422
    key = {"Idempotency-Key": "rejeu-1"}
    first = await contribute(client, departement, carnet_id, {"evenements": [EVENT]}, **key)
    replayed = await contribute(client, departement, carnet_id, {"evenements": [EVENT]}, **key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.content == first.content
    with db.read() as session:
        entries = session.exec(
            select(JournalEntry)
            .where(JournalEntry.carnet_id == carnet_id)
            .order_by(col(JournalEntry.seq))
        ).all()
    assert [(e.action, e.resultat) for e in entries] == [
        ("creation", "applique"),
        ("ecriture", "refuse:contenu_invalide"),
        ("ecriture", "applique"),
        ("ecriture", "rejeu"),
    ]


# -- found by review: no oracle elsewhere, no replayed reads, visible text ----------------------


async def test_a_sandbox_publisher_cannot_tell_whether_a_real_nir_has_a_notebook(client, partner):
    departement = await partner("departement")
    await new_notebook(client, departement, carnet(personne(nir=NIR_A)))
    publisher = await partner("editeur_logiciel")
    refused = await identify(client, publisher, carnet(personne(nir=NIR_A)))
    assert refused.status_code == 403
    assert refused.json()["code"] == "nir_non_autorise"


async def test_a_sandbox_publisher_cannot_probe_a_persons_identifiers(client, partner):
    departement = await partner("departement")
    real = {"france_travail": {"identifiant": "FT-REEL-26"}}
    await new_notebook(client, departement, carnet(personne(nom="Reel", identifiants=real)))
    publisher = await partner("editeur_logiciel")
    sandbox = carnet(personne(nom="Fictif", identifiants=real))
    made = await identify(client, publisher, sandbox)
    assert made.status_code == 201, made.text
    assert (await identify(client, publisher, sandbox)).json()["id"] == made.json()["id"]


async def test_a_contribution_is_no_oracle_on_other_notebooks_identifiers(client, partner):
    departement = await partner("departement")
    secret = {"france_travail": {"identifiant": "FT-SECRET-26"}}
    await new_notebook(client, departement, carnet(personne(nom="Autre", identifiants=secret)))
    ccas = await partner("ccas_cias")
    own = await new_notebook(client, ccas, carnet(personne(nom="Alibi")))
    guessed = await contribute(
        client, ccas, own, {"personne": personne(nom="Alibi", identifiants=secret)}
    )
    assert guessed.status_code == 409
    assert guessed.json()["code"] == "identification_impossible"
    assert "errors" not in guessed.json()


async def test_a_contribution_is_no_oracle_on_other_notebooks_nir(client, partner):
    departement = await partner("departement")
    await new_notebook(client, departement, carnet(personne(nom="Autre", nir=NIR_A)))
    france_travail = await partner("france_travail")
    own = await new_notebook(client, france_travail, carnet(personne(nom="Alibi")))
    guessed = await contribute(
        client, france_travail, own, {"personne": personne(nom="Alibi", nir=NIR_A)}
    )
    assert guessed.status_code == 409, guessed.text
    assert guessed.json()["code"] == "identification_impossible"


async def test_contribution_probes_are_counted_and_throttled(client, partner):
    departement = await partner("departement")
    secret = {"france_travail": {"identifiant": "FT-SECRET-26"}}
    await new_notebook(client, departement, carnet(personne(nom="Autre", identifiants=secret)))
    ccas = await partner("ccas_cias")
    own = await new_notebook(client, ccas, carnet(personne(nom="Alibi")))
    probe = {"personne": personne(nom="Alibi", identifiants=secret)}
    answers = [(await contribute(client, ccas, own, probe)).status_code for _ in range(5)]
    assert answers == [409, 409, 409, 409, 429]


async def test_reads_never_replay_an_answer(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion")
    key = {"Idempotency-Key": "lecture-1"}
    before = await client.get(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi", headers=departement.headers | key
    )
    await designate(client, departement, carnet_id, structure.organisation_id)
    after = await client.get(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi", headers=departement.headers | key
    )
    assert (len(before.json()["membres"]), len(after.json()["membres"])) == (0, 1)
    assert "Idempotent-Replayed" not in after.headers


@pytest.mark.parametrize(
    "motif", ["Suivi \u202eenimrets\u202c", "Ligne\u2028cachée", "C1 \x85", "Zéro\u200blargeur"]
)
async def test_a_join_reason_refuses_invisible_characters(client, partner, motif):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    ccas = await partner("ccas_cias")
    refused = await ask(client, ccas, carnet_id, motif)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/motif"


# -- search --------------------------------------------------------------------------------------


async def search(client, p, criteria):
    return await client.post("/v1/carnets/recherche", json=criteria, headers=p.headers)


async def test_a_search_by_identity_outside_the_need_to_know_only_discovers(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    france_travail = await partner("france_travail")
    found = await search(client, france_travail, {"nir": NIR_A, "date_naissance": "1990-04-15"})
    assert found.status_code == 200, found.text
    assert found.json()["elements"] == [
        {
            "id": carnet_id,
            "version": None,
            "territoire": "26",
            "modifie_le": None,
            "acces": "decouverte",
        }
    ]
    # A wrong birth date or a NIR of another territory: the same empty answer.
    wrong = await search(client, france_travail, {"nir": NIR_A, "date_naissance": "1990-04-16"})
    assert wrong.json()["elements"] == []


async def test_a_search_journals_the_notebooks_it_named(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    await search(client, departement, {"nir": NIR_A, "date_naissance": "1990-04-15"})
    with db.read() as session:
        named = session.exec(
            select(JournalEntry).where(
                JournalEntry.action == "recherche", JournalEntry.resultat == "liste"
            )
        ).all()
    assert [(e.carnet_id, e.organisation_id) for e in named] == [
        (carnet_id, departement.organisation_id)
    ]


async def test_failed_identity_searches_are_throttled(client, partner):
    france_travail = await partner("france_travail")
    answers = [
        (
            await search(client, france_travail, {"nir": NIR_A, "date_naissance": "1990-04-15"})
        ).status_code
        for _ in range(5)
    ]
    assert answers == [200, 200, 200, 200, 429]


async def test_a_feed_page_journals_the_notebooks_it_named(client, partner, db):
    departement = await partner("departement")
    first = await new_notebook(client, departement)
    second = await new_notebook(client, departement, carnet(personne(nom="Autre")))
    page = await client.get("/v1/changements", headers=departement.headers)
    assert page.status_code == 200
    with db.read() as session:
        named = session.exec(
            select(JournalEntry).where(
                JournalEntry.action == "changements", JournalEntry.resultat == "liste"
            )
        ).all()
    assert sorted(e.carnet_id for e in named) == sorted([first, second])


# -- each route: who may call it, another notebook's ids -----------------------------------------


async def test_a_member_may_leave_the_group_and_loses_access(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion")
    member = (await designate(client, departement, carnet_id, structure.organisation_id)).json()
    left = await client.delete(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi/{member['id']}", headers=structure.headers
    )
    assert left.status_code == 200, left.text
    assert (await read(client, structure, carnet_id)).status_code == 404
    again = await client.delete(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi/{member['id']}", headers=departement.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "membre_deja_sorti"


async def test_a_member_cannot_end_another_members_membership(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    first = await partner("structure_insertion")
    second = await partner("mission_locale")
    await designate(client, departement, carnet_id, first.organisation_id)
    other = (await designate(client, departement, carnet_id, second.organisation_id)).json()
    refused = await client.delete(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi/{other['id']}", headers=first.headers
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "designation_reservee"


async def test_ids_of_another_notebook_act_on_nothing(client, partner):
    departement = await partner("departement")
    first = await new_notebook(client, departement)
    second = await new_notebook(client, departement, carnet(personne(nom="Autre")))
    structure = await partner("structure_insertion")
    member = (await designate(client, departement, first, structure.organisation_id)).json()
    ccas = await partner("ccas_cias")
    demande = (await ask(client, ccas, first)).json()["id"]
    ended = await client.delete(
        f"/v1/carnets/{second}/groupe-de-suivi/{member['id']}", headers=departement.headers
    )
    assert ended.status_code == 404
    assert ended.json()["code"] == "membre_introuvable"
    decided = await decide(client, departement, second, demande)
    assert decided.status_code == 404
    assert decided.json()["code"] == "rattachement_introuvable"
    assert (await read(client, structure, first)).status_code == 200
    assert (await read(client, ccas, first)).status_code == 404


async def test_a_member_lists_its_own_requests_and_a_stranger_nothing(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    structure = await partner("structure_insertion")
    await designate(client, departement, carnet_id, structure.organisation_id)
    await ask(client, await partner("ccas_cias"), carnet_id)
    mine = await client.get(f"/v1/carnets/{carnet_id}/rattachements", headers=structure.headers)
    assert mine.status_code == 200
    assert mine.json()["demandes"] == []
    stranger = await partner("mission_locale")
    hidden = await client.get(f"/v1/carnets/{carnet_id}/rattachements", headers=stranger.headers)
    assert hidden.status_code == 404
