"""Connector operations through the HTTP API, with a fake connector registered by a fixture."""

import asyncio
from importlib.metadata import EntryPoint

import pytest
from sqlmodel import select

from connectors import (
    GROUP,
    Connector,
    ConnectorLoadError,
    Notice,
    PullOutcome,
    PullResult,
    Registry,
    UpstreamUnavailable,
)
from gateway.app import create_app
from gateway.organisations.service import create_client, create_organisation
from gateway.settings import Settings
from gateway.storage.tables import JournalEntry
from tests.gateway.conftest import BASE_URL
from tests.gateway.fake_connector import FakeConnector, FakeSettings, dossier
from tests.gateway.payloads import NIR_A, carnet, contribute, new_notebook, personne, view

MOBILITE = "mobilite.aucun_moyen_transport_disposition"
LOYER = "logement.difficulte_payer_loyer"
HEBERGE = "logement.heberge_chez_tiers"
PERMIS = "mobilite.obtenir_permis_conduire"


@pytest.fixture
def ft_client(db):
    """The registered client the connector writes as in territory 26 (France Travail)."""
    with db.write() as session:
        organisation = create_organisation(
            session, nom="France Travail 26", type_acteur="france_travail", territoires=["26"]
        )
        created = create_client(session, organisation_id=organisation.id, nom="connecteur")
        return organisation.id, created.client.client_id


@pytest.fixture
def settings(ft_client):
    return Settings(
        environment="test",
        issuer=BASE_URL,
        connecteurs={"faux": {"26": ft_client[1]}},
    )


@pytest.fixture
async def app(settings, db):
    registry = Registry()
    registry.register(FakeConnector)
    application = create_app(settings, database=db, registry=registry)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def fake(app) -> FakeConnector:
    return app.state.gateway.connectors.get("faux").connector


@pytest.fixture
async def departement(partner):
    return await partner("departement", ["26"])


@pytest.fixture
async def notebook(client, departement):
    return await new_notebook(client, departement, carnet(personne(nir=NIR_A)))


async def sync(client, who, carnet_id, slug="faux", **body):
    response = await client.post(
        f"/v1/carnets/{carnet_id}/synchronisations/{slug}", json=body or None, headers=who.headers
    )
    if response.status_code == 200 and response.json()["ecriture"] is not None:
        # The connector's own write is journaled too, as the connector's client.
        client.accesses.append("connector write")
    return response


def codes(document, source=None):
    return sorted(
        s["code"]
        for s in (document.get("diagnostic") or {}).get("situations", [])
        if source is None or s["provenance"]["source"] == source
    )


async def test_the_list_gives_version_capabilities_territories_and_zero_health(client, departement):
    response = await client.get("/v1/connecteurs", headers=departement.headers)
    assert response.status_code == 200
    (item,) = response.json()["connecteurs"]
    assert item["slug"] == "faux"
    assert item["version"] == "0.0.1"
    assert item["capacites"] == ["pull"]
    assert item["territoires"] == ["26"]
    assert item["type_acteur"] == "france_travail"
    assert item["sante"] == {
        "derniere_reussite": None,
        "dernier_echec": None,
        "compteurs": {
            "appels": 0,
            "reussites": 0,
            "echecs": 0,
            "inchanges": 0,
            "codes_inconnus": 0,
            "champs_inconnus": 0,
        },
        "circuit": "ferme",
    }


async def test_the_list_needs_a_token(client):
    assert (await client.get("/v1/connecteurs")).status_code == 401


async def test_a_pull_is_applied_as_the_connectors_own_source(
    client, departement, notebook, fake, ft_client, db
):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE, "depuis": "2026-05-02"}]))
    response = await sync(client, departement, notebook)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["resultat"] == "applique"
    assert result["version"] == 2
    assert result["ecriture"]["appliques"] == ["/diagnostic/situations/0"]
    (request,) = fake.requests
    assert request.nir == NIR_A[:13]
    assert request.date_naissance.isoformat() == "1990-04-15"
    assert request.agent.identifiant == "BATCH"
    document = await view(client, departement, notebook)
    (situation,) = document["diagnostic"]["situations"]
    assert situation["provenance"]["source"] == f"organisation:{ft_client[0]}"
    assert situation["provenance"]["type_acteur"] == "france_travail"
    assert situation["provenance"]["client"] == ft_client[1]
    with db.read() as session:
        entries = session.exec(select(JournalEntry).where(JournalEntry.carnet_id == notebook))
        actions = sorted((e.action, e.client_id, e.resultat) for e in entries)
    assert ("synchronisation", departement.client_id, "applique") in actions
    assert ("ecriture", ft_client[1], "applique") in actions


async def test_health_counts_calls_and_unknown_codes(client, departement, notebook, fake):
    notice = Notice("/x", "code_inconnu", "Code inconnu.")
    fake.answer(
        dossier(
            "h1",
            situations=[{"code": MOBILITE}],
            notices=[notice],
            unknown_codes=2,
            unknown_fields=3,
        )
    )
    assert (await sync(client, departement, notebook)).status_code == 200
    (item,) = (await client.get("/v1/connecteurs", headers=departement.headers)).json()[
        "connecteurs"
    ]
    assert item["sante"]["compteurs"] == {
        "appels": 1,
        "reussites": 1,
        "echecs": 0,
        "inchanges": 0,
        "codes_inconnus": 2,
        "champs_inconnus": 3,
    }
    assert item["sante"]["derniere_reussite"] is not None


async def test_the_same_dossier_twice_makes_no_new_version(client, departement, notebook, fake):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    first = await sync(client, departement, notebook)
    second = await sync(client, departement, notebook, forcer=True)
    assert second.status_code == 200
    assert second.json()["resultat"] == "inchange"
    assert second.json()["version"] == first.json()["version"] == 2
    assert (await view(client, departement, notebook))["version"] == 2


async def test_within_the_freshness_window_the_partner_is_not_called(
    client, departement, notebook, fake
):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    await sync(client, departement, notebook)
    again = await sync(client, departement, notebook)
    assert again.status_code == 200
    assert again.json()["resultat"] == "recent"
    assert len(fake.requests) == 1


async def test_not_found_has_its_own_window(client, departement, notebook, fake, app):
    app.state.gateway.sync.not_found_interval = app.state.gateway.sync.interval * 0
    fake.answer(PullResult(PullOutcome.NOT_FOUND), PullResult(PullOutcome.NOT_FOUND))
    assert (await sync(client, departement, notebook)).json()["resultat"] == "introuvable"
    assert (await sync(client, departement, notebook)).json()["resultat"] == "introuvable"
    assert len(fake.requests) == 2


async def test_items_of_other_sources_survive_every_dossier(client, departement, notebook, fake):
    response = await contribute(
        client,
        departement,
        notebook,
        {
            "observe_le": "2026-01-01T09:00:00Z",
            "diagnostic": {"situations": [{"code": LOYER}, {"code": HEBERGE}]},
            "axes": [{"theme": "mobilite", "objectifs": [{"code": PERMIS, "statut": "en_cours"}]}],
        },
    )
    assert response.status_code == 200, response.text
    fake.answer(
        dossier("h1", situations=[{"code": MOBILITE}, {"code": LOYER, "supprime": True}]),
        dossier("h2", observe_le="2026-07-01T10:00:00Z", situations=[]),
        dossier(
            "h3",
            observe_le="2026-08-01T10:00:00Z",
            situations=[{"code": MOBILITE, "supprime": True}, {"code": HEBERGE, "supprime": True}],
            axes=[{"theme": "mobilite", "objectifs": [{"code": PERMIS, "statut": "abandonne"}]}],
        ),
    )
    await sync(client, departement, notebook)
    document = await view(client, departement, notebook)
    assert codes(document) == sorted([LOYER, HEBERGE, MOBILITE])
    await sync(client, departement, notebook, forcer=True)
    assert codes(await view(client, departement, notebook)) == sorted([LOYER, HEBERGE, MOBILITE])
    await sync(client, departement, notebook, forcer=True)
    document = await view(client, departement, notebook)
    source = f"organisation:{departement.organisation_id}"
    assert codes(document) == sorted([LOYER, HEBERGE])
    assert codes(document, source) == sorted([LOYER, HEBERGE])
    objectifs = {
        (o["statut"], o["provenance"]["source"]) for a in document["axes"] for o in a["objectifs"]
    }
    assert ("en_cours", source) in objectifs
    assert len(objectifs) == 2


async def test_a_vanished_dossier_keeps_the_items_marked_unconfirmed(
    client, departement, notebook, fake
):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]), PullResult(PullOutcome.NO_DOSSIER))
    await sync(client, departement, notebook)
    gone = await sync(client, departement, notebook, forcer=True)
    assert gone.json()["resultat"] == "aucun_dossier"
    assert gone.json()["non_confirme_depuis"] is not None
    assert codes(await view(client, departement, notebook)) == [MOBILITE]
    recent = await sync(client, departement, notebook)
    assert recent.json()["non_confirme_depuis"] == gone.json()["non_confirme_depuis"]


async def test_an_upstream_failure_is_a_503_recorded_in_the_health(
    client, departement, notebook, fake
):
    fake.answer(UpstreamUnavailable("Service indisponible.", retry_after=5))
    response = await sync(client, departement, notebook)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "amont_indisponible"
    client.accesses.append("failed pull journaled")
    (item,) = (await client.get("/v1/connecteurs", headers=departement.headers)).json()[
        "connecteurs"
    ]
    assert item["sante"]["compteurs"]["echecs"] == 1
    assert item["sante"]["dernier_echec"]["code"] == "amont_indisponible"
    # A failure does not hold the next try back.
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    assert (await sync(client, departement, notebook)).json()["resultat"] == "applique"


async def test_an_invalid_contribution_is_a_502_and_changes_nothing(
    client, departement, notebook, fake
):
    fake.answer(dossier("h1", situations=[{"code": "mobilite.inexistant"}]))
    response = await sync(client, departement, notebook)
    assert response.status_code == 502
    assert response.json()["code"] == "contribution_connecteur_invalide"
    assert response.json()["errors"][0]["pointer"] == "/diagnostic/situations/0/code"
    client.accesses.append("failed pull journaled")
    assert (await view(client, departement, notebook))["version"] == 1


async def test_unknown_connector_notebook_and_territory(client, departement, notebook, partner):
    assert (await sync(client, departement, notebook, slug="inconnu")).status_code == 404
    assert (
        await sync(client, departement, "00000000-0000-0000-0000-000000000000")
    ).status_code == 404
    other = await partner("departement", ["07"])
    assert (await sync(client, other, notebook)).status_code == 404
    elsewhere = await new_notebook(client, other, carnet(personne(nom="Autre")))
    response = await sync(client, other, elsewhere)
    assert response.status_code == 409
    assert response.json()["code"] == "connecteur_non_active"


async def test_a_caller_without_the_write_right_cannot_trigger(client, notebook, partner):
    caf = await partner("caf_msa", ["26"])
    response = await sync(client, caf, notebook)
    assert response.status_code in (403, 404)


async def test_a_disabled_connector_client_is_a_503(client, departement, notebook, db, ft_client):
    from gateway.organisations.service import set_client_active

    with db.write() as session:
        set_client_active(session, ft_client[1], False)
    response = await sync(client, departement, notebook)
    assert response.status_code == 503
    assert response.json()["code"] == "connecteur_mal_configure"


async def test_the_agent_named_by_the_caller_is_passed_on(client, departement, notebook, fake):
    agent = {"identifiant": "agent-0001", "nom": "Exemple", "prenom": "Agent"}
    await sync(client, departement, notebook, agent=agent)
    assert fake.requests[0].agent.identifiant == "agent-0001"


async def test_a_malformed_request_body_is_a_400(client, departement, notebook):
    response = await sync(client, departement, notebook, agent={"identifiant": ""})
    assert response.status_code == 400


# -- start-up ----------------------------------------------------------------------------------


def test_an_enabled_connector_that_is_not_installed_stops_start_up():
    settings = Settings(environment="test", connecteurs={"absent": {"26": "x"}})
    with pytest.raises(ConnectorLoadError, match="« absent » activé mais non installé"):
        create_app(settings, registry=Registry())


def test_an_enabled_connector_with_incomplete_settings_stops_start_up(monkeypatch):
    class Strict(FakeSettings):
        adresse: str

    class StrictConnector(FakeConnector):
        settings_model = Strict

    monkeypatch.delenv("CARNET_FAUX_ADRESSE", raising=False)
    registry = Registry()
    registry.register(StrictConnector)
    settings = Settings(environment="test", connecteurs={"faux": {"26": "x"}})
    with pytest.raises(ConnectorLoadError, match="CARNET_FAUX_ADRESSE"):
        create_app(settings, registry=registry)


def test_a_connector_of_an_unknown_actor_kind_stops_start_up():
    class Odd(FakeConnector):
        type_acteur = "inconnu"

    registry = Registry()
    registry.register(Odd)
    settings = Settings(environment="test", connecteurs={"faux": {"26": "x"}})
    with pytest.raises(ConnectorLoadError, match="type d'acteur"):
        create_app(settings, registry=registry)


def test_a_connector_that_fails_to_import_stops_start_up_only_when_enabled():
    point = EntryPoint(name="casse", value="connectors.inexistant:Connecteur", group=GROUP)
    create_app(Settings(environment="test"), registry=Registry([point]))
    settings = Settings(environment="test", connecteurs={"casse": {"26": "x"}})
    with pytest.raises(ConnectorLoadError, match="échec du chargement"):
        create_app(settings, registry=Registry([point]))


def test_a_class_that_is_not_a_connector_is_refused():
    class Broken(Connector):
        slug = "casse"

    with pytest.raises(ConnectorLoadError, match="attribut"):
        Registry().register(Broken)


async def test_a_write_the_service_refuses_is_a_502_and_changes_nothing(
    client, departement, notebook, fake, ft_client, db
):
    from gateway.habilitation import load_matrix
    from gateway.habilitation.overrides import decide

    with db.write() as session:
        decide(
            session,
            load_matrix(),
            organisation_id=ft_client[0],
            categorie="situation",
            droit="ecriture",
            effet="retire",
            motif="essai",
            auteur="opérateur",
        )
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    response = await sync(client, departement, notebook)
    client.accesses.append("failed pull journaled")
    assert response.status_code == 502
    assert response.json()["code"] == "contribution_connecteur_refusee"
    assert response.json()["errors"][0]["code"] == "ecriture_non_autorisee"
    assert (await view(client, departement, notebook))["version"] == 1


async def test_partner_identifiers_are_handed_to_the_connector(client, departement, fake):
    document = carnet(
        personne(identifiants={"france_travail": {"identifiant": "FT-0000001"}}),
    )
    carnet_id = await new_notebook(client, departement, document)
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    response = await sync(client, departement, carnet_id)
    assert response.json()["resultat"] == "applique"
    (request,) = fake.requests
    assert request.nir is None
    assert request.identifiants == {"france_travail": "FT-0000001"}


async def test_an_incomplete_identity_is_tried_again_at_once(client, departement, fake):
    carnet_id = await new_notebook(client, departement, carnet(personne(nom="Sansnir")))
    assert (await sync(client, departement, carnet_id)).json()["resultat"] == "identite_incomplete"
    assert (await sync(client, departement, carnet_id)).json()["resultat"] == "identite_incomplete"
    assert len(fake.requests) == 2


# -- asynchronous pulls and their state ---------------------------------------------------------


async def test_respond_async_answers_202_then_the_state_says_what_came_of_it(
    client, departement, notebook, fake, app
):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    response = await client.post(
        f"/v1/carnets/{notebook}/synchronisations/faux",
        headers=departement.headers | {"Prefer": "respond-async"},
    )
    assert response.status_code == 202
    location = response.headers["location"]
    assert location == f"/v1/carnets/{notebook}/synchronisations/faux"
    await asyncio.gather(*app.state.gateway.pulls)
    client.accesses.append("connector write")
    state = await client.get(location, headers=departement.headers)
    assert state.status_code == 200
    body = state.json()
    assert body["dernier_resultat"] == "dossier"
    assert body["derniere_reussite"] is not None
    assert body["non_confirme_depuis"] is None
    assert codes(await view(client, departement, notebook)) == [MOBILITE]


async def test_a_failed_background_pull_is_in_the_state(client, departement, notebook, fake, app):
    fake.answer(UpstreamUnavailable("Indisponible."))
    response = await client.post(
        f"/v1/carnets/{notebook}/synchronisations/faux",
        headers=departement.headers | {"Prefer": "respond-async"},
    )
    assert response.status_code == 202
    # The 202 and the failed pull's journal entry make one access.
    await asyncio.gather(*app.state.gateway.pulls)
    state = await client.get(response.headers["location"], headers=departement.headers)
    assert state.json()["dernier_resultat"] == "echec"
    assert state.json()["derniere_reussite"] is None


async def test_the_checks_come_before_the_202(client, partner, notebook):
    other = await partner("departement", ["07"])
    response = await client.post(
        f"/v1/carnets/{notebook}/synchronisations/faux",
        headers=other.headers | {"Prefer": "respond-async"},
    )
    assert response.status_code == 404


async def test_the_state_of_a_notebook_never_pulled_is_empty(client, departement, notebook):
    state = await client.get(
        f"/v1/carnets/{notebook}/synchronisations/faux", headers=departement.headers
    )
    assert state.status_code == 200
    assert state.json()["dernier_resultat"] is None


async def test_the_state_is_within_the_need_to_know(client, partner, notebook):
    other = await partner("departement", ["07"])
    state = await client.get(f"/v1/carnets/{notebook}/synchronisations/faux", headers=other.headers)
    assert state.status_code == 404


async def test_closing_what_the_connector_never_held_changes_nothing(
    client, departement, notebook, fake
):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE, "supprime": True}]))
    result = (await sync(client, departement, notebook)).json()
    assert result["resultat"] == "inchange"
    assert result["version"] == 1


async def test_a_connector_defect_is_a_502_recorded_as_a_failure(
    client, departement, notebook, fake, caplog
):
    fake.answer(RuntimeError(NIR_A))  # a defect, whose message holds personal data
    response = await sync(client, departement, notebook)
    client.accesses.append("failed pull journaled")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "erreur_connecteur"
    assert NIR_A not in caplog.text
    (item,) = (await client.get("/v1/connecteurs", headers=departement.headers)).json()[
        "connecteurs"
    ]
    assert item["sante"]["compteurs"]["echecs"] == 1
    assert item["sante"]["dernier_echec"]["code"] == "erreur_connecteur"
    assert (await view(client, departement, notebook))["version"] == 1


async def test_an_unchanged_dossier_mapped_anew_after_a_crosswalk_update_is_applied(
    client, departement, notebook, fake
):
    notice = Notice("/contraintes/0/situations/0/code", "code_inconnu", "Code inconnu.")
    # The same upstream dossier (same hash): first with a code the crosswalk does not know,
    # then mapped by an updated crosswalk that knows it.
    fake.answer(
        dossier("h1", notices=[notice], unknown_codes=1),
        dossier("h1", situations=[{"code": MOBILITE, "depuis": "2026-05-02"}]),
    )
    first = await sync(client, departement, notebook)
    assert first.json()["codes_inconnus"] == 1
    second = await sync(client, departement, notebook, forcer=True)
    assert second.status_code == 200, second.text
    assert second.json()["resultat"] == "applique"
    assert codes(await view(client, departement, notebook)) == [MOBILITE]


async def test_a_connector_update_maps_an_unchanged_dossier_again(
    client, departement, notebook, fake, monkeypatch
):
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    assert (await sync(client, departement, notebook)).json()["resultat"] == "applique"
    monkeypatch.setattr(type(fake), "version", "0.0.2")
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    again = await sync(client, departement, notebook, forcer=True)
    # Mapped again (the merge then finds nothing new: no new version).
    assert again.json()["resultat"] == "inchange"
    assert again.json()["ecriture"] is not None


async def test_the_journal_of_a_pull_names_the_agent_by_identifier_only(
    client, departement, notebook, fake, db
):
    agent = {"identifiant": "agent-0042", "nom": "Lefèvre", "prenom": "Hélène"}
    fake.answer(dossier("h1", situations=[{"code": MOBILITE}]))
    assert (await sync(client, departement, notebook, agent=agent)).status_code == 200
    with db.read() as session:
        entries = list(session.exec(select(JournalEntry).where(JournalEntry.carnet_id == notebook)))
    (pulled,) = [e for e in entries if e.action == "synchronisation"]
    assert pulled.client_id == departement.client_id
    assert pulled.agent == "agent-0042"
    dump = " ".join(str(value) for e in entries for value in e.model_dump().values())
    assert "Lefèvre" not in dump
    assert "Hélène" not in dump
    journal = await client.get(f"/v1/carnets/{notebook}/journal", headers=departement.headers)
    assert journal.status_code == 200, journal.text
    served = [e for e in journal.json()["elements"] if e["action"] == "synchronisation"]
    assert [e["agent"] for e in served] == ["agent-0042"]


async def test_a_batch_pull_is_journaled_on_behalf_of_batch(client, departement, notebook, fake):
    fake.answer(PullResult(PullOutcome.NOT_FOUND))
    assert (await sync(client, departement, notebook)).status_code == 200
    journal = await client.get(f"/v1/carnets/{notebook}/journal", headers=departement.headers)
    served = [e for e in journal.json()["elements"] if e["action"] == "synchronisation"]
    assert [e["agent"] for e in served] == ["BATCH"]
