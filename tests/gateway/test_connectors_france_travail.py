"""The France Travail connector end to end: FT mocked with respx at the HTTP boundary, the
gateway's sync route and merge in between (sync semantics of connectors.md §7.1)."""

import asyncio
import copy
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest
import respx
from sqlalchemy import text

from connectors import Registry
from gateway.app import create_app
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from tests.connectors.france_travail.samples import (
    DOSSIER_V4,
    SEARCH_V2,
    TOKEN_AGENT,
    contrainte_v4,
    dossier_v4,
    dossier_v4_of,
    found,
    token,
)
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import NIR_A, carnet, contribute, new_notebook, personne, view

TRANSPORT = "mobilite.dependant_transports_commun"
AUCUN = "mobilite.aucun_moyen_transport_disposition"
VEHICULE = "mobilite.acceder_vehicule"


@pytest.fixture
def ft_client(db):
    with db.write() as session:
        organisation = create_organisation(
            session, nom="France Travail 26", type_acteur="france_travail", territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="connecteur")
        return organisation.id, created.client.client_id


@pytest.fixture
def settings(ft_client, monkeypatch):
    monkeypatch.setenv("CARNET_FT_CLIENT_ID", "PAR_carnetdemo_7f3a")
    monkeypatch.setenv("CARNET_FT_CLIENT_SECRET", "demo-secret-not-real")
    monkeypatch.setenv("CARNET_FT_RETRY_ATTEMPTS", "1")
    monkeypatch.setenv("CARNET_FT_RATE_LIMIT_PER_SECOND", "0")
    return Settings(
        environment="test",
        issuer=BASE_URL,
        connecteurs={"france_travail": {"26": ft_client[1]}},
    )


@pytest.fixture
async def app(settings, db):
    # The connector comes from its entry point, as in production.
    application = create_app(settings, database=db, registry=Registry.discover())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def ft():
    with respx.mock(assert_all_called=False) as router:
        router.route(host="localhost").pass_through()
        router.post(TOKEN_AGENT, params={"realm": "/agent"}, name="token").respond(json=token())
        router.post(SEARCH_V2, name="search").respond(json=found())
        router.get(DOSSIER_V4, name="dossier").respond(json=dossier_v4())
        yield router


@pytest.fixture
async def departement(partner):
    return await partner("departement", ["26"])


@pytest.fixture
async def notebook(client, departement):
    return await new_notebook(client, departement, carnet(personne(nir=NIR_A)))


async def pull(client, who, carnet_id, **body):
    response = await client.post(
        f"/v1/carnets/{carnet_id}/synchronisations/france_travail",
        json={"forcer": True, **body},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    if response.json()["ecriture"] is not None:
        client.accesses.append("connector write")
    return response.json()


def serve(ft, body=None, content=None, status=200):
    route = ft["dossier"]
    if content is not None:
        route.respond(status, content=content)
    else:
        route.respond(status, json=body)


def statuses(document):
    return {
        (o["code"], o["provenance"]["source"]): o["statut"]
        for axe in document.get("axes", [])
        for o in axe["objectifs"]
    }


def situation_codes(document, source=None):
    """The codes of the situations ``source`` asserts (a situation several sources assert is
    shown once, with all their provenances)."""
    return sorted(
        s["code"]
        for s in (document.get("diagnostic") or {}).get("situations", [])
        if source is None
        or source in {p["source"] for p in s.get("provenances", [s["provenance"]])}
    )


async def test_the_connector_is_listed_from_its_entry_point(client, departement):
    response = await client.get("/v1/connecteurs", headers=departement.headers)
    (item,) = response.json()["connecteurs"]
    assert item["slug"] == "france_travail"
    assert item["capacites"] == ["pull"]
    assert item["territoires"] == ["26"]


async def test_a_dossier_is_applied_as_france_travail(client, departement, notebook, ft, ft_client):
    result = await pull(client, departement, notebook)
    assert result["resultat"] == "applique"
    document = await view(client, departement, notebook)
    source = f"organisation:{ft_client[0]}"
    assert TRANSPORT in situation_codes(document, source)
    assert statuses(document)[(VEHICULE, source)] == "en_cours"
    assert ft["search"].calls.last.request.headers["pa-identifiant-agent"] == "BATCH"


async def test_the_same_dossier_twice_makes_no_new_version(client, departement, notebook, ft):
    first = await pull(client, departement, notebook)
    second = await pull(client, departement, notebook)
    assert second["resultat"] == "inchange"
    assert second["version"] == first["version"]
    assert second["ecriture"] is None


async def test_the_same_dossier_with_keys_reordered_is_unchanged(client, departement, notebook, ft):
    first = await pull(client, departement, notebook)
    body = dossier_v4()
    reordered = dict(reversed(list(body.items())))
    serve(ft, content=json.dumps(reordered, indent=2).encode())
    second = await pull(client, departement, notebook)
    assert second["resultat"] == "inchange"
    assert second["version"] == first["version"]


async def test_an_objective_follows_en_cours_realise_abandonne(
    client, departement, notebook, ft, ft_client
):
    source = f"organisation:{ft_client[0]}"
    for valeur, date, expected in [
        ("EN_COURS", "2024-05-02T10:00:00.000+02:00", "en_cours"),
        ("REALISE", "2024-07-02T10:00:00.000+02:00", "realise"),
        ("ABANDONNE", "2024-09-02T10:00:00.000+02:00", "abandonne"),
    ]:
        serve(ft, dossier_v4_of(contrainte_v4("23", date=date, objectifs=[("29", valeur)])))
        assert (await pull(client, departement, notebook))["resultat"] == "applique"
        assert statuses(await view(client, departement, notebook)) == {(VEHICULE, source): expected}


async def test_an_older_observation_is_ignored(client, departement, notebook, ft, ft_client):
    serve(
        ft,
        dossier_v4_of(
            contrainte_v4("23", date="2024-09-02T10:00:00Z", objectifs=[("29", "REALISE")]),
            date="2024-09-02T10:00:00Z",
        ),
    )
    await pull(client, departement, notebook)
    serve(
        ft,
        dossier_v4_of(
            contrainte_v4("23", date="2024-05-02T10:00:00Z", objectifs=[("29", "EN_COURS")]),
            date="2024-05-02T10:00:00Z",
        ),
    )
    result = await pull(client, departement, notebook)
    assert result["ecriture"]["ignores_obsoletes"]
    source = f"organisation:{ft_client[0]}"
    assert statuses(await view(client, departement, notebook)) == {(VEHICULE, source): "realise"}


async def test_a_vanished_dossier_keeps_the_items_marked_unconfirmed(
    client, departement, notebook, ft
):
    await pull(client, departement, notebook)
    serve(ft, status=204, content=b"")
    result = await pull(client, departement, notebook)
    assert result["resultat"] == "aucun_dossier"
    assert result["non_confirme_depuis"] is not None
    assert TRANSPORT in situation_codes(await view(client, departement, notebook))


async def test_items_of_other_sources_survive_every_dossier(
    client, departement, notebook, ft, ft_client
):
    mine = f"organisation:{departement.organisation_id}"
    # Hand-entered items on the themes FT's dossiers speak of (mobilité, logement, numérique:
    # some of the very codes FT asserts then closes) and on others (emploi, formation).
    objectifs = {
        "mobilite": VEHICULE,
        "numerique": "numerique.maitriser_fondamentaux_numerique",
        "emploi": "trouver_un_emploi.faire_candidatures_spontanees",
        "formation": "se_former.trouver_formation",
    }
    manual = {
        "observe_le": "2024-01-01T09:00:00Z",
        "diagnostic": {
            "situations": [
                {"code": AUCUN},
                {"code": TRANSPORT},
                {"code": "logement.difficulte_payer_loyer"},
                {"code": "logement.heberge_chez_tiers"},
                {"code": "emploi.disponible_immediatement"},
                {"code": "formation.pret_suivre_formation"},
                {"code": "numerique.dispose_smartphone"},
                {"code": "numerique.difficulte_demarches_en_ligne"},
            ]
        },
        "axes": [
            {"theme": theme, "objectifs": [{"code": code, "statut": "en_cours"}]}
            for theme, code in objectifs.items()
        ],
    }
    response = await contribute(client, departement, notebook, manual)
    assert response.status_code == 200, response.text
    assert response.json()["resultat"]["refuses"] == []
    before = situation_codes(await view(client, departement, notebook), mine)
    assert len(before) == len(manual["diagnostic"]["situations"])
    assert {"emploi", "formation", "numerique"} <= {code.split(".")[0] for code in before}
    dossiers = [
        dossier_v4(),
        dossier_v4_of(
            contrainte_v4(
                "23",
                valeur="CLOTUREE",
                date="2024-08-01T10:00:00Z",
                situations=[("6", "OUI")],
                objectifs=[("29", "ABANDONNE")],
            ),
            contrainte_v4("27", valeur="CLOTUREE", date="2024-08-01T10:00:00Z"),
            date="2024-08-01T10:00:00Z",
        ),
        dossier_v4_of(
            sans_contrainte={"flag": True, "date": "2024-09-01T10:00:00Z"},
            date="2024-09-01T10:00:00Z",
        ),
        {"besoinsParDiagnostic": [], "thematiqueContrainte": {"contraintes": []}},
    ]
    ft_source = f"organisation:{ft_client[0]}"
    for rank, body in enumerate(dossiers):
        serve(ft, copy.deepcopy(body))
        await pull(client, departement, notebook)
        document = await view(client, departement, notebook)
        if rank == 0:
            # FT asserts some of the hand-entered codes itself: later dossiers close its own.
            shared = {TRANSPORT, "numerique.dispose_smartphone"}
            assert shared <= set(situation_codes(document, ft_source))
            # One item each, with the two provenances.
            for item in document["diagnostic"]["situations"]:
                if item["code"] in shared:
                    sources = {p["source"] for p in item["provenances"]}
                    assert sources == {mine, ft_source}, item
            codes = [item["code"] for item in document["diagnostic"]["situations"]]
            assert len(codes) == len(set(codes))
        assert situation_codes(document, mine) == before
        held = statuses(document)
        for code in objectifs.values():
            assert held[(code, mine)] == "en_cours", code
    document = await view(client, departement, notebook)
    assert situation_codes(document, ft_source) == []
    assert statuses(document)[(VEHICULE, ft_source)] == "abandonne"


async def test_unknown_codes_are_counted_in_the_health(client, departement, notebook, ft):
    serve(ft, dossier_v4_of(contrainte_v4("99", situations=[("6", "OUI")])))
    result = await pull(client, departement, notebook)
    assert result["codes_inconnus"] == 1
    assert result["avertissements"][0]["code"] == "code_inconnu"
    (item,) = (await client.get("/v1/connecteurs", headers=departement.headers)).json()[
        "connecteurs"
    ]
    assert item["sante"]["compteurs"]["codes_inconnus"] == 1


async def test_an_uncertified_identity_changes_nothing(client, departement, notebook, ft):
    ft["search"].respond(json=found(certified="N"))
    result = await pull(client, departement, notebook)
    assert result["resultat"] == "identite_non_certifiee"
    assert result["version"] == 1
    assert not ft["dossier"].called


async def test_an_ft_outage_is_a_503_problem(client, departement, notebook, ft):
    ft["search"].respond(503, json={"codeRetour": "R999", "message": "Service indisponible"})
    response = await client.post(
        f"/v1/carnets/{notebook}/synchronisations/france_travail", headers=departement.headers
    )
    client.accesses.append("failed pull journaled")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "amont_indisponible"


async def test_a_notebook_without_nir_is_found_by_its_france_travail_number(
    client, departement, ft, ft_client
):
    document = carnet(personne(identifiants={"france_travail": {"identifiant": "FT-0000001"}}))
    carnet_id = await new_notebook(client, departement, document)
    number = ft.post(
        SEARCH_V2.replace("par-datenaissance-et-nir", "par-numero-francetravail")
    ).respond(json=found())
    result = await pull(client, departement, carnet_id)
    assert result["resultat"] == "applique"
    assert number.called
    assert not ft["search"].called
    document = await view(client, departement, carnet_id)
    assert TRANSPORT in situation_codes(document, f"organisation:{ft_client[0]}")


async def test_no_nir_token_or_jeton_in_the_logs(client, departement, notebook, ft, caplog):
    caplog.set_level(logging.DEBUG)
    await pull(client, departement, notebook)
    text = caplog.text
    assert NIR_A[:13] not in text
    assert "demo.access.token" not in text
    assert "demo-jeton-usager" not in text
    assert "demo-secret-not-real" not in text


async def test_a_partner_request_is_not_blocked_while_ft_answers(client, departement, notebook, ft):
    """The pull holds no transaction while it waits for FT: a write to the same notebook
    goes through meanwhile, and the pull then merges onto it."""
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow(request):
        asked.set()
        await release.wait()
        return httpx.Response(200, json=dossier_v4())

    ft["dossier"].mock(side_effect=slow)
    pulling = asyncio.create_task(pull(client, departement, notebook))
    await asyncio.wait_for(asked.wait(), 5)
    manual = {"observe_le": "2024-01-01T09:00:00Z", "diagnostic": {"situations": [{"code": AUCUN}]}}
    response = await asyncio.wait_for(contribute(client, departement, notebook, manual), 5)
    assert response.status_code == 200
    assert response.json()["version"] == 2
    release.set()
    result = await asyncio.wait_for(pulling, 5)
    assert result["version"] == 3
    codes = situation_codes(await view(client, departement, notebook))
    assert AUCUN in codes
    assert TRANSPORT in codes


async def test_nothing_of_the_ft_payload_is_stored(client, departement, notebook, ft, db):
    await pull(client, departement, notebook)
    stored = []
    with db.read() as session:
        for table in (
            "carnets",
            "carnets_etats",
            "carnets_libelles",
            "changements",
            "journal",
            "connecteurs_suivi",
            "connecteurs_sante",
        ):
            rows = session.execute(text(f"SELECT * FROM {table}")).all()
            stored.extend(
                value.decode() if isinstance(value, bytes) else str(value)
                for row in rows
                for value in row
            )
    dump = "\n".join(stored)
    for raw in (
        "diag-demo-0001",
        "Texte libre de démonstration",
        "demo-jeton-usager",
        "CONSEILLER",
        "8c1b7e52",
    ):
        assert raw not in dump, raw
    assert TRANSPORT in dump  # what it says is stored, as referential codes


async def test_an_accented_requester_name_is_sent_folded_to_ascii(
    client, departement, notebook, ft
):
    agent = {"identifiant": "agent-0001", "nom": "Lefèvre", "prenom": "Hélène"}
    result = await pull(client, departement, notebook, agent=agent)
    assert result["resultat"] == "applique"
    for route in ("search", "dossier"):
        headers = ft[route].calls.last.request.headers
        assert headers["pa-nom-agent"] == "Lefevre"
        assert headers["pa-prenom-agent"] == "Helene"
        assert headers["pa-identifiant-agent"] == "agent-0001"


async def test_a_requester_name_with_a_line_break_is_a_located_400(
    client, departement, notebook, ft
):
    agent = {"identifiant": "agent-0001", "nom": "a\r\nb", "prenom": "Agent"}
    response = await client.post(
        f"/v1/carnets/{notebook}/synchronisations/france_travail",
        json={"agent": agent},
        headers=departement.headers,
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["in"], error["parameter"]) == ("body", "agent.nom")
    assert not ft["search"].called


async def test_a_pull_records_nothing_of_the_identity_it_was_not_told(client, departement, ft):
    """The identity only designates the notebook: FT said nothing of it, so its units keep
    the département's provenance, and FT takes no authority over the FT identifier the
    département entered (its later correction applies)."""
    mine = f"organisation:{departement.organisation_id}"
    identifiants = {"france_travail": {"identifiant": "FT-0000001"}}
    carnet_id = await new_notebook(
        client, departement, carnet(personne(nir=NIR_A, identifiants=identifiants))
    )
    assert (await pull(client, departement, carnet_id))["resultat"] == "applique"
    document = await view(client, departement, carnet_id)
    assert TRANSPORT in situation_codes(document)
    identity = {p: s for p, s in document["provenance"].items() if p.startswith("/personne/")}
    assert set(identity) >= {
        "/personne/nom",
        "/personne/prenom",
        "/personne/date_naissance",
        "/personne/identifiants/france_travail",
    }
    assert {s["source"] for s in identity.values()} == {mine}
    corrected = {
        "observe_le": datetime.now(UTC).isoformat(),
        "personne": personne(identifiants={"france_travail": {"identifiant": "FT-0000002"}}),
    }
    response = await contribute(client, departement, carnet_id, corrected)
    assert response.status_code == 200, response.text
    assert response.json()["resultat"]["refuses"] == []
    assert "/personne/identifiants/france_travail" in response.json()["resultat"]["appliques"]
    document = await view(client, departement, carnet_id)
    assert document["personne"]["identifiants"]["france_travail"]["identifiant"] == "FT-0000002"
