"""The France Travail connector through its pull capability, FT mocked with respx."""

import asyncio
import json
import logging
from datetime import date

import httpx
import pytest

from connectors import (
    Agent,
    CircuitOpen,
    CircuitState,
    PullOutcome,
    PullRequest,
    UpstreamConfiguration,
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamUnavailable,
)
from tests.connectors.france_travail.samples import (
    DOSSIER_V1,
    DOSSIER_V4,
    IDENTIFIANT,
    NOT_FOUND,
    R997,
    SEARCH_V1,
    SEARCH_V2,
    SEVERAL,
    TOKEN_AGENT,
    TOKEN_PARTENAIRE,
    contrainte_v4,
    dossier_v1,
    dossier_v4,
    dossier_v4_of,
    found,
    found_v1,
    token,
)

NIR15 = "188099999900248"
BIRTH = date(1988, 9, 3)
AGENT = Agent("agent-0001", "Exemple", "Agent")


def request(nir=NIR15, birth=BIRTH, agent=AGENT):
    return PullRequest(carnet_id="c-1", territoire="26", nir=nir, date_naissance=birth, agent=agent)


@pytest.fixture
def v4(mock):
    """Named routes of the current generation; the test sets their answers."""
    mock.post(TOKEN_AGENT, params={"realm": "/agent"}, name="token").respond(json=token())
    mock.post(SEARCH_V2, name="search").respond(json=found())
    mock.get(DOSSIER_V4, name="dossier").respond(json=dossier_v4())
    return mock


@pytest.fixture
def v1(mock):
    mock.post(TOKEN_PARTENAIRE, params={"realm": "/partenaire"}, name="token").respond(json=token())
    mock.post(SEARCH_V1, name="search").respond(json=found_v1())
    mock.get(DOSSIER_V1, name="dossier").respond(json=dossier_v1())
    return mock


def answer(router, name, *args, **kwargs):
    router[name].mock(return_value=httpx.Response(*args, **kwargs))


def situations(result):
    return {
        s["code"]: s for s in (result.contribution.get("diagnostic") or {}).get("situations", [])
    }


def objectifs(result):
    return {
        (axe["theme"], o["code"]): o["statut"]
        for axe in result.contribution.get("axes", [])
        for o in axe["objectifs"]
    }


# -- search ------------------------------------------------------------------------------------


async def test_v4_searches_by_nir_and_birth_date_with_the_pa_headers_then_sends_the_jeton(ft, v4):
    result = await ft.pull(request())
    assert result.outcome is PullOutcome.DOSSIER
    search = v4["search"].calls.last.request
    assert json.loads(search.content) == {"dateNaissance": "1988-09-03", "nir": NIR15[:13]}
    assert search.headers["pa-identifiant-agent"] == "agent-0001"
    assert search.headers["pa-nom-agent"] == "Exemple"
    assert search.headers["pa-prenom-agent"] == "Agent"
    assert search.headers["authorization"] == "Bearer demo.access.token.1"
    assert "ft-jeton-usager" not in search.headers
    dossier = v4["dossier"].calls.last.request
    assert dossier.headers["ft-jeton-usager"] == "demo-jeton-usager-0001"
    assert dossier.headers["pa-identifiant-agent"] == "agent-0001"
    assert dossier.url.query == b""


async def test_a_batch_run_sends_batch_as_the_agent(ft, v4):
    await ft.pull(request(agent=Agent("BATCH", "BATCH", "BATCH")))
    headers = v4["search"].calls.last.request.headers
    assert [headers[f"pa-{n}-agent"] for n in ("identifiant", "nom", "prenom")] == ["BATCH"] * 3


async def test_a_corsican_nir_is_sent_as_stored(ft, v4):
    await ft.pull(request(nir="2902A99999001"))
    assert json.loads(v4["search"].calls.last.request.content)["nir"] == "2902A99999001"


@pytest.mark.parametrize("certified", ["N", None, "null"])
async def test_an_uncertified_identity_imports_nothing(ft, v4, certified):
    answer(v4, "search", 200, json=found(certified=certified))
    result = await ft.pull(request())
    assert result.outcome is PullOutcome.UNCERTIFIED
    assert result.contribution is None
    assert not v4["dossier"].called


@pytest.mark.parametrize(
    ("body", "outcome"), [(NOT_FOUND, PullOutcome.NOT_FOUND), (SEVERAL, PullOutcome.AMBIGUOUS)]
)
async def test_s002_is_not_found_and_s003_ambiguous(ft, v4, body, outcome):
    answer(v4, "search", 200, json=body)
    assert (await ft.pull(request())).outcome is outcome
    assert not v4["dossier"].called


@pytest.mark.parametrize("jeton", [None, "null", ""])
async def test_s001_without_a_jeton_is_not_found(ft, v4, jeton):
    answer(v4, "search", 200, json=found(jeton=jeton))
    assert (await ft.pull(request())).outcome is PullOutcome.NOT_FOUND
    assert not v4["dossier"].called


async def test_r997_is_a_rejected_request_never_retried(ft, v4, sleeps):
    answer(v4, "search", 400, json=R997)
    with pytest.raises(UpstreamRejected, match="R997"):
        await ft.pull(request())
    assert v4["search"].call_count == 1


@pytest.mark.parametrize("code", ["R001", "R002"])
async def test_r001_and_r002_are_refusals(ft, v4, code):
    answer(v4, "search", 403, json={"codeRetour": code, "message": "Accès non autorisé"})
    with pytest.raises(UpstreamRefused):
        await ft.pull(request())
    assert v4["search"].call_count == 1


@pytest.mark.parametrize(("status", "code"), [(500, "R998"), (503, "R999")])
async def test_r998_and_r999_are_retried_then_unavailable(ft, v4, status, code):
    answer(v4, "search", status, json={"codeRetour": code, "message": "indisponible"})
    with pytest.raises(UpstreamUnavailable):
        await ft.pull(request())
    assert v4["search"].call_count == 4


async def test_missing_pa_headers_redirect_is_a_configuration_error(ft, v4):
    answer(v4, "search", 302, headers={"Location": "https://example.org/login"})
    with pytest.raises(UpstreamConfiguration):
        await ft.pull(request())


async def test_empty_pa_headers_401_is_a_configuration_error(ft, v4):
    answer(v4, "search", 401)
    with pytest.raises(UpstreamConfiguration):
        await ft.pull(request())
    assert v4["token"].call_count == 2  # one renewal, then the error


@pytest.mark.parametrize(("nir", "birth"), [(None, BIRTH), (NIR15, None)])
async def test_a_notebook_without_nir_or_birth_date_makes_no_call(ft, v4, nir, birth):
    result = await ft.pull(request(nir=nir, birth=birth))
    assert result.outcome is PullOutcome.INCOMPLETE
    assert not v4["token"].called
    assert not v4["search"].called


async def test_v4_finds_by_france_travail_number_without_a_nir(ft, v4):
    route = v4.post(
        SEARCH_V2.replace("par-datenaissance-et-nir", "par-numero-francetravail"), name="number"
    ).respond(json=found())
    request_ = PullRequest(
        carnet_id="c-1",
        territoire="26",
        nir=None,
        date_naissance=BIRTH,
        agent=AGENT,
        identifiants={"france_travail": "FT-0000001"},
    )
    assert (await ft.pull(request_)).outcome is PullOutcome.DOSSIER
    assert json.loads(route.calls.last.request.content) == {"numeroFranceTravail": "FT-0000001"}
    assert route.calls.last.request.headers["pa-identifiant-agent"] == "agent-0001"
    assert not v4["search"].called
    assert v4["dossier"].calls.last.request.headers["ft-jeton-usager"] == "demo-jeton-usager-0001"


async def test_v1_has_no_search_by_number(ft_v1, v1):
    request_ = PullRequest(
        carnet_id="c-1",
        territoire="26",
        nir=None,
        date_naissance=BIRTH,
        identifiants={"france_travail": "FT-0000001"},
    )
    assert (await ft_v1.pull(request_)).outcome is PullOutcome.INCOMPLETE
    assert not v1["search"].called


async def test_v1_searches_then_reads_the_dossier_by_its_encoded_identifier(ft_v1, v1):
    result = await ft_v1.pull(request())
    assert result.outcome is PullOutcome.DOSSIER
    search = v1["search"].calls.last.request
    assert json.loads(search.content) == {"nir": NIR15[:13], "dateNaissance": "1988-09-03"}
    assert "%23" in str(v1["dossier"].calls.last.request.url)
    assert IDENTIFIANT not in str(v1["dossier"].calls.last.request.url)


async def test_v1_an_empty_identifier_is_not_found(ft_v1, v1):
    answer(v1, "search", 200, json=found_v1(identifiant=""))
    assert (await ft_v1.pull(request())).outcome is PullOutcome.NOT_FOUND
    assert not v1["dossier"].called


# -- dossier shapes ----------------------------------------------------------------------------


async def test_204_with_an_empty_body_is_no_dossier(ft, v4):
    answer(v4, "dossier", 204)
    assert (await ft.pull(request())).outcome is PullOutcome.NO_DOSSIER


@pytest.mark.parametrize("content", [b"{}", b"", b"  "])
async def test_an_empty_object_or_body_is_no_dossier(ft, v4, content):
    answer(v4, "dossier", 200, content=content)
    assert (await ft.pull(request())).outcome is PullOutcome.NO_DOSSIER


async def test_empty_lists_are_a_dossier_that_asserts_nothing(ft, v4):
    answer(v4, "dossier", 200, json={"besoinsParDiagnostic": [], "thematiqueContrainte": None})
    result = await ft.pull(request())
    assert result.outcome is PullOutcome.DOSSIER
    assert set(result.contribution) == {"observe_le"}


@pytest.mark.parametrize(
    "content",
    [b'{"thematiqueContrainte": {"contraintes": [', b"[]", b'{"thematiqueContrainte": 3}'],
)
async def test_a_malformed_dossier_is_an_upstream_error(ft, v4, content):
    answer(v4, "dossier", 200, content=content)
    with pytest.raises(UpstreamMalformed):
        await ft.pull(request())


async def test_a_code_as_a_number_is_malformed(ft, v4):
    body = dossier_v4()
    body["thematiqueContrainte"]["contraintes"][0]["code"] = 23
    answer(v4, "dossier", 200, json=body)
    with pytest.raises(UpstreamMalformed, match="code"):
        await ft.pull(request())


async def test_the_v4_dossier_maps_by_code_through_the_v4_crosswalk(ft, v4):
    result = await ft.pull(request())
    assert situations(result) == {
        "mobilite.dependant_transports_commun": {
            "code": "mobilite.dependant_transports_commun",
            "depuis": "2024-05-02",
        },
        "numerique.dispose_smartphone": {
            "code": "numerique.dispose_smartphone",
            "depuis": "2024-05-02",
        },
    }
    assert objectifs(result) == {
        ("mobilite", "mobilite.acceder_vehicule"): "en_cours",
        ("numerique", "numerique.maitriser_fondamentaux_numerique"): "en_cours",
    }
    # The newest observation of the dossier (autonomieNumerique, 14:25 at +02:00).
    assert result.contribution["observe_le"] == "2024-05-02T12:25:00Z"
    assert result.notices == []
    assert result.unknown_codes == 0


async def test_the_v1_dossier_maps_values_as_they_mean(ft_v1, v1):
    result = await ft_v1.pull(request())
    found_ = situations(result)
    assert found_["mobilite.aucun_moyen_transport_disposition"]["depuis"] == "2024-01-18"
    # Situation NON closes it; contrainte CLOTUREE closes every logement situation.
    assert found_["mobilite.permis_non_valide_suspension_permis"] == {
        "code": "mobilite.permis_non_valide_suspension_permis",
        "supprime": True,
    }
    logement = {code for code in found_ if code.startswith("logement.")}
    assert "logement.difficulte_payer_loyer" in logement
    assert all(found_[code].get("supprime") for code in logement)
    # NON_ABORDEE asserts nothing.
    assert not any(code.startswith("difficulte_financiere.") for code in found_)
    assert objectifs(result) == {
        ("mobilite", "mobilite.obtenir_permis_conduire"): "en_cours",
        ("mobilite", "mobilite.trouver_solution_transport"): "realise",
        ("logement", "logement.reduire_impayes_loyer"): "realise",
    }


async def test_the_same_objectif_code_means_different_things_in_v1_and_v4(ft, ft_v1, v4):
    v4.post(TOKEN_PARTENAIRE, params={"realm": "/partenaire"}).respond(json=token())
    v4.post(SEARCH_V1).respond(json=found_v1())
    v4.get(DOSSIER_V1).respond(json=dossier_v1())
    v4_objectives = objectifs(await ft.pull(request()))
    v1_objectives = objectifs(await ft_v1.pull(request()))
    assert ("mobilite", "mobilite.acceder_vehicule") in v4_objectives
    assert ("mobilite", "mobilite.trouver_solution_transport") in v1_objectives
    assert ("mobilite", "mobilite.acceder_vehicule") not in v1_objectives


async def test_every_nullable_field_null_at_once_is_accepted(ft_v1, v1):
    body = dossier_v1()
    family = body["contraintesIndividusDto"]
    family.update(conseiller=None, dateDeModification=None, libelle=None)
    for contrainte in family["contraintes"]:
        contrainte["date"] = None
        contrainte["libelle"] = None
    for project in body["besoinsParDiagnosticIndividuDtos"]:
        project.update(dateMiseAJour=None, nomMetier=None, typologie=None)
    answer(v1, "dossier", 200, json=body)
    result = await ft_v1.pull(request())
    assert result.outcome is PullOutcome.DOSSIER
    assert "mobilite.aucun_moyen_transport_disposition" in situations(result)


async def test_v4_null_agents_and_dates_and_absent_impact_are_accepted(ft, v4):
    body = dossier_v4_of(
        contrainte_v4("23", date=None, situations=[("7", "OUI")], objectifs=[("29", "EN_COURS")]),
        date=None,
    )
    body["thematiqueContrainte"]["contraintes"][0].pop("estPrioritaire")
    answer(v4, "dossier", 200, json=body)
    result = await ft.pull(request())
    # Without any date, the fetch time dates the observation.
    assert result.contribution["observe_le"] == "2026-06-01T12:00:00Z"
    assert situations(result)["mobilite.dependant_transports_commun"]["depuis"] == "2026-06-01"


async def test_declared_without_contrainte_closes_what_the_dossier_does_not_assert(ft, v4):
    body = dossier_v4_of(
        contrainte_v4("23", situations=[("7", "OUI")]),
        sans_contrainte={"flag": True, "date": "2024-06-01T10:00:00.000+02:00"},
    )
    answer(v4, "dossier", 200, json=body)
    found_ = situations(await ft.pull(request()))
    assert "depuis" in found_["mobilite.dependant_transports_commun"]
    assert found_["logement.difficulte_payer_loyer"] == {
        "code": "logement.difficulte_payer_loyer",
        "supprime": True,
    }


# -- unknown codes and labels ------------------------------------------------------------------


async def test_an_unknown_value_is_a_warning_and_the_rest_is_applied(ft, v4):
    body = dossier_v4_of(contrainte_v4("23", situations=[("7", "NSP"), ("6", "OUI")]))
    answer(v4, "dossier", 200, json=body)
    result = await ft.pull(request())
    assert list(situations(result)) == ["mobilite.aucun_moyen_transport_disposition"]
    (notice,) = result.notices
    assert notice.code == "valeur_inconnue"
    assert notice.pointer == "/thematiqueContrainte/contraintes/0/situations/0/valeur"


async def test_unknown_codes_are_warnings_counted_never_guessed(ft, v4):
    body = dossier_v4_of(
        contrainte_v4("99", situations=[("6", "OUI")]),
        contrainte_v4(
            "23", situations=[("99", "OUI"), ("7", "OUI")], objectifs=[("99", "EN_COURS")]
        ),
    )
    answer(v4, "dossier", 200, json=body)
    result = await ft.pull(request())
    assert result.unknown_codes == 3
    assert [n.code for n in result.notices] == ["code_inconnu"] * 3
    assert [n.pointer for n in result.notices] == [
        "/thematiqueContrainte/contraintes/0/code",
        "/thematiqueContrainte/contraintes/1/situations/0/code",
        "/thematiqueContrainte/contraintes/1/objectifs/0/code",
    ]
    assert list(situations(result)) == ["mobilite.dependant_transports_commun"]


async def test_a_code_without_equivalent_is_reported_as_such(ft, v4):
    body = dossier_v4_of(contrainte_v4("22", situations=[("46", "OUI")]))
    answer(v4, "dossier", 200, json=body)
    result = await ft.pull(request())
    assert [n.code for n in result.notices] == ["sans_equivalent"]
    assert result.unknown_codes == 0


async def test_labels_have_no_effect_on_the_mapping(ft, v4):
    plain = await ft.pull(request())
    body = dossier_v4()
    situation = body["thematiqueContrainte"]["contraintes"][0]["situations"][0]
    situation["libelle"] = "DÃ©pendant des transports en  communs"
    body["thematiqueContrainte"]["contraintes"][0]["libelle"] = "Développer sa mobilité’"
    answer(v4, "dossier", 200, json=body)
    assert (await ft.pull(request())).contribution == plain.contribution


async def test_unknown_extra_fields_are_tolerated_and_counted(ft, v4):
    body = dossier_v4()
    body["nouveauBloc"] = {"x": 1}
    body["thematiqueContrainte"]["nouveauChamp"] = True
    body["thematiqueContrainte"]["contraintes"][0]["situations"][0]["autre"] = "y"
    answer(v4, "dossier", 200, json=body)
    result = await ft.pull(request())
    assert result.outcome is PullOutcome.DOSSIER
    assert result.unknown_fields == 3


async def test_duplicated_situation_codes_make_one_item(ft, v4):
    body = dossier_v4_of(contrainte_v4("23", situations=[("7", "OUI"), ("7", "OUI")]))
    answer(v4, "dossier", 200, json=body)
    result = await ft.pull(request())
    assert len(result.contribution["diagnostic"]["situations"]) == 1


# -- hashing -----------------------------------------------------------------------------------


async def test_the_hash_ignores_key_order_and_whitespace_not_values(ft, v4):
    first = (await ft.pull(request())).fingerprint
    body = dossier_v4()
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4).encode()
    answer(v4, "dossier", 200, content=reordered)
    assert (await ft.pull(request())).fingerprint == first
    body["thematiqueContrainte"]["contraintes"][0]["valeur"] = "CLOTUREE"
    answer(v4, "dossier", 200, json=body)
    assert (await ft.pull(request())).fingerprint != first


async def test_the_v1_identifier_in_the_dossier_url_never_reaches_the_logs(ft_v1, v1, caplog):
    caplog.set_level(logging.DEBUG)
    await ft_v1.pull(request())
    assert "diagnosticargumente/v1/individus/" in caplog.text
    assert IDENTIFIANT.split("#")[0] not in caplog.text
    assert NIR15[:13] not in caplog.text


async def test_a_token_outage_is_retried_by_the_calls_bounds_only(make, v4, sleeps):
    """Token retries are not nested in call retries: four attempts in all, one token request
    each, and the total wait within its cap."""
    ft = make(retry_attempts=4)
    v4["token"].respond(500)
    with pytest.raises(UpstreamUnavailable):
        await ft.pull(request())
    assert v4["token"].call_count == 4
    assert len(sleeps) == 3
    assert sum(sleeps) <= 30
    assert not v4["search"].called


async def test_half_open_lets_one_trial_through_and_refuses_the_others_meanwhile(make, v4, clock):
    ft = make(retry_attempts=1, circuit_threshold=1, circuit_cooldown_seconds=60)
    v4["search"].respond(503)
    with pytest.raises(UpstreamUnavailable):
        await ft.pull(request())
    clock.now += 60
    assert ft.circuit() is CircuitState.HALF_OPEN
    asked, release = asyncio.Event(), asyncio.Event()
    searches = []

    async def slow(sent):
        searches.append(sent)
        asked.set()
        await release.wait()
        return httpx.Response(200, json=found())

    v4["search"].mock(side_effect=slow)
    trial = asyncio.create_task(ft.pull(request()))
    await asyncio.wait_for(asked.wait(), 5)
    with pytest.raises(CircuitOpen):
        await asyncio.wait_for(ft.pull(request()), 1)
    assert len(searches) == 1
    release.set()
    assert (await asyncio.wait_for(trial, 5)).outcome is PullOutcome.DOSSIER
    assert ft.circuit() is CircuitState.CLOSED
    assert (await ft.pull(request())).outcome is PullOutcome.DOSSIER


async def test_a_trial_without_verdict_lets_the_next_caller_try(make, v4, clock):
    ft = make(retry_attempts=1, circuit_threshold=1, circuit_cooldown_seconds=60)
    v4["search"].respond(503)
    with pytest.raises(UpstreamUnavailable):
        await ft.pull(request())
    clock.now += 60
    v4["search"].respond(json=R997)
    with pytest.raises(UpstreamRejected):
        await ft.pull(request())
    v4["search"].respond(json=found())
    assert (await ft.pull(request())).outcome is PullOutcome.DOSSIER
    assert ft.circuit() is CircuitState.CLOSED
