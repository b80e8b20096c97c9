"""The habilitation matrix, walked: every actor kind × every data category × in and out of the
need to know, on every notebook route. Expectations are computed from the published matrix
(``GET /v1/habilitations``), so that the matrix and the behaviour cannot drift apart."""

from importlib import resources
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select

from gateway.app import create_app
from gateway.habilitation import classify, load_matrix
from gateway.habilitation.categories import CATEGORIES, FREE_TEXT
from gateway.habilitation.matrix import Matrix
from gateway.storage.tables import JournalEntry
from referential import current_referential
from tests.gateway.payloads import body, carnet, contribute, join, new_notebook, personne

MATRIX = load_matrix()
MATRIX_FILE = Path(str(resources.files("gateway") / "data" / "habilitations.yaml"))
KINDS = tuple(MATRIX.actors)

#: A notebook holding every category (written by a département, which may write them all).
FULL = carnet(
    personne(nom_naissance="Autrement"),
    coordonnees={"courriel": "personne@example.org"},
    droits={
        "are": True,
        "rsa": {
            "etat": "rsa_droit_ouvert_versable",
            "suspensions": [{"motif": "caf_hospitalisation"}],
        },
    },
    situation={"niveau_formation": "afs", "rqth": True},
    diagnostic={
        "situations": [
            {"code": "difficulte_administrative.difficulte_ordre_juridique"},
            {"code": "sante.couverture_sociale_a_mettre_a_jour"},
            {"code": "logement.heberge_chez_tiers"},
        ]
    },
    axes=[
        {
            "theme": "logement",
            "objectifs": [{"code": "logement.acceder_logement", "statut": "en_cours"}],
        }
    ],
    contrat={"type": "cer"},
    evenements=[
        {"id": "e1", "type": "autre", "date": "2026-01-05T10:00:00Z", "libelle": "Entretien"}
    ],
)

#: One contribution per category, touching that category only: (section, body of the section).
SAMPLES = {
    "identite": ("personne", personne(nom_naissance="Autrement")),
    "coordonnees": ("coordonnees", {"courriel": "personne@example.org"}),
    "droits": ("droits", {"prime_activite": True}),
    "situation": ("situation", {"niveau_formation": "afs"}),
    "accompagnement": ("contrat", {"type": "cer"}),
    "parcours": (
        "evenements",
        [{"id": "e2", "type": "autre", "date": "2026-02-05T10:00:00Z", "libelle": "Atelier"}],
    ),
    "sante_handicap": ("situation", {"rqth": True}),
    "justice": (
        "diagnostic",
        {"situations": [{"code": "difficulte_administrative.difficulte_ordre_juridique"}]},
    ),
    # Free text is always held by a part of another category: here, a parcours event.
    FREE_TEXT: (
        "evenements",
        [{"id": "e3", "type": "autre", "date": "2026-02-06T10:00:00Z", "libelle": "Suivi"}],
    ),
}


def readable(kind):
    return {c for c in CATEGORIES if MATRIX.actor(kind).may("lecture", c)}


def reason(kind, category):
    """Why a category the kind may not read is withheld, for the kind's first purpose (the
    one the tests' clients state): free text is served to its author and to the referent
    structure."""
    if category == FREE_TEXT:
        served = MATRIX.served[MATRIX.actor(kind).finalites[0]]
        return "auteur_ou_referent" if category in served else "hors_finalite"
    return "non_habilite"


def reachable(kind):
    """Can an organisation of this kind bring a notebook into its need to know?"""
    actor = MATRIX.actor(kind)
    return actor.portee == "territoire" or (
        actor.portee == "relation" and actor.may("identification", "identite")
    )


def writable(kind, category):
    """May the kind write the sample of ``category`` (whose pointers are the sample's)?"""
    section, content = SAMPLES[category]
    pointers = [p for p, c in classify({section: content}, current_referential()) if c == category]
    return all(MATRIX.actor(kind).may_write(category, p) for p in pointers)


async def in_scope(client, partner, kind, document=None):
    """A notebook created by a département, and a partner of ``kind`` that identified its
    person (when its kind can): the notebook is within its need to know if the matrix allows."""
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, document or carnet())
    p = departement if kind == "departement" else await partner(kind)
    if kind != "departement" and reachable(kind):
        await join(client, p, carnet_id)
    return carnet_id, p, departement


async def read(client, p, carnet_id, path=""):
    return await client.get(f"/v1/carnets/{carnet_id}{path}", headers=p.headers)


# -- the published matrix ----------------------------------------------------------------------


async def test_the_matrix_is_published(client):
    response = await client.get("/v1/habilitations")
    assert response.status_code == 200
    published = response.json()
    assert set(published["types_acteur"]) == set(KINDS)
    assert set(published["categories"]) == set(CATEGORIES)
    assert published["types_acteur"]["caf_msa"]["limites"]["identite"] == [
        "/personne/identifiants/caf_msa"
    ]
    # Sensitive categories are never exported by default.
    for actor in published["types_acteur"].values():
        for category in ("sante_handicap", "justice"):
            assert "export" not in actor["droits"].get(category, [])


async def test_the_matrix_says_which_actor_kinds_national_operators_administer(client):
    published = (await client.get("/v1/habilitations")).json()["types_acteur"]
    national = {kind for kind, actor in published.items() if actor["national"]}
    assert national == {"france_travail", "caf_msa", "editeur_logiciel", "administration"}


@pytest.mark.parametrize(
    ("kind", "flag", "problem"),
    [
        ("departement", True, "un type qui pilote un territoire n'est pas national"),
        ("france_travail", "oui", "« national » vaut true ou false"),
    ],
)
def test_a_matrix_with_a_wrong_national_flag_is_refused(kind, flag, problem):
    raw = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    raw["types_acteur"][kind]["national"] = flag
    with pytest.raises(ValueError, match=problem):
        Matrix(raw)


# -- reads: projection and the withheld-categories manifest --------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_read_returns_exactly_the_readable_categories(client, partner, kind):
    carnet_id, p, _ = await in_scope(client, partner, kind, FULL)
    response = await read(client, p, carnet_id)
    if not reachable(kind):
        assert response.status_code in (403, 404), response.text
        return
    assert response.status_code == 200, response.text
    view = response.json()
    served = {category for _, category in classify(view, current_referential())}
    # Free text: the département wrote the notebook's, a partner an event when it joined; none
    # is the referent structure.
    own = {FREE_TEXT} if writable(kind, FREE_TEXT) else set()
    assert served == readable(kind) | own, "the notebook holds every category"
    assert [m["categorie"] for m in view["masques"]] == [
        c for c in CATEGORIES if c not in readable(kind)
    ]
    assert all(
        m["raison"] == reason(kind, m["categorie"]) and m["base_legale"] for m in view["masques"]
    )
    # Labels and provenance of withheld parts are withheld with them.
    if "sante_handicap" not in readable(kind):
        assert "sante.couverture_sociale_a_mettre_a_jour" not in str(view["libelles"])
        assert "/situation/rqth" not in view["provenance"]
        assert "/droits/rsa" not in view["provenance"]
    if "identite" not in readable(kind):
        assert "personne" not in view


@pytest.mark.parametrize("kind", KINDS)
async def test_a_section_read_is_projected_the_same_way(client, partner, kind):
    carnet_id, p, _ = await in_scope(client, partner, kind, FULL)
    whole = await read(client, p, carnet_id)
    for section in ("personne", "droits", "situation", "diagnostic"):
        response = await read(client, p, carnet_id, f"/{section}")
        assert response.status_code == whole.status_code
        if whole.status_code == 200:
            assert response.json()[section] == whole.json().get(section)
            assert response.json()["masques"] == whole.json()["masques"]


# -- writes: refused per pointer, nothing applied ------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_write_follows_the_matrix(client, partner, kind, category):
    carnet_id, p, departement = await in_scope(client, partner, kind)
    before = (await read(client, departement, carnet_id)).json()["version"]
    section, content = SAMPLES[category]
    for response in (
        await contribute(client, p, carnet_id, {section: content}),
        await client.patch(
            f"/v1/carnets/{carnet_id}/{section}", content=body(content), headers=p.headers
        ),
    ):
        if not MATRIX.actor(kind).finalites:
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "finalite_non_autorisee"
        elif "carnets.ecriture" not in MATRIX.actor(kind).scopes:
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "portee_insuffisante"
            assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
        elif not writable(kind, category):
            assert response.status_code == 403, response.text
            problem = response.json()
            assert problem["code"] == "ecriture_non_autorisee"
            refused = {e["categorie"] for e in problem["errors"]}
            # The sample's other parts are refused with it when the kind may not write them.
            assert category in refused
            assert not any(writable(kind, c) for c in refused)
        elif not reachable(kind):
            assert response.status_code == 404, response.text
        else:
            assert response.status_code == 200, response.text
    after = (await read(client, departement, carnet_id)).json()["version"]
    if not (writable(kind, category) and reachable(kind)):
        assert after == before, "a refused write applies nothing"


async def test_a_write_mixing_allowed_and_refused_categories_applies_nothing(client, partner):
    carnet_id, p, departement = await in_scope(client, partner, "structure_insertion")
    before = (await read(client, departement, carnet_id)).json()
    response = await contribute(
        client,
        p,
        carnet_id,
        {"coordonnees": {"courriel": "autre@example.org"}, "droits": {"are": True}},
    )
    assert response.status_code == 403
    assert [e["pointer"] for e in response.json()["errors"]] == ["/droits/are"]
    after = (await read(client, departement, carnet_id)).json()
    assert after["version"] == before["version"]
    assert "coordonnees" not in after


async def test_write_limits_hold_within_a_category(client, partner):
    carnet_id, france_travail, _ = await in_scope(client, partner, "france_travail")
    allowed = await contribute(client, france_travail, carnet_id, {"droits": {"are": True}})
    assert allowed.status_code == 200, allowed.text
    refused = await contribute(
        client, france_travail, carnet_id, {"droits": {"rsa": {"etat": "rsa_refuse"}}}
    )
    assert refused.status_code == 403
    caf = await partner("caf_msa")
    await join(client, caf, carnet_id)
    rsa = {"etat": "rsa_droit_ouvert_versable", "suspensions": [{"motif": "caf_beneficiaire_aah"}]}
    assert (await contribute(client, caf, carnet_id, {"droits": {"rsa": rsa}})).status_code == 200
    ids = {"caf_msa": {"organisme": "caf", "numero_organisme": "999", "matricule": "1234567"}}
    with_matricule = await contribute(
        client, caf, carnet_id, {"personne": personne(identifiants=ids)}
    )
    assert with_matricule.status_code == 200, with_matricule.text
    renamed = await contribute(client, caf, carnet_id, {"personne": personne(nom_naissance="X")})
    assert renamed.status_code == 403


async def test_identity_only_finds_the_notebook_for_who_may_not_record_it(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, carnet(personne(nom="Exemple")))
    caf = await partner("caf_msa")
    again = await client.post(
        "/v1/carnets", content=body(carnet(personne(nom="EXEMPLE"))), headers=caf.headers
    )
    assert again.status_code == 200
    view = (await read(client, departement, carnet_id)).json()
    assert view["personne"]["nom"] == "Exemple"


# -- need to know --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_outside_the_need_to_know_a_notebook_does_not_exist(client, partner, kind):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    stranger = await partner(kind)
    steering = MATRIX.actor(kind).portee == "territoire"
    responses = [
        await read(client, stranger, carnet_id),
        await read(client, stranger, carnet_id, "/droits"),
        await read(client, stranger, carnet_id, "/journal"),
        await contribute(client, stranger, carnet_id, {"evenements": SAMPLES["parcours"][1]}),
    ]
    for response in responses:
        if not MATRIX.actor(kind).finalites:
            assert response.status_code == 403
        elif steering:
            assert response.status_code in (200, 403), response.text
        else:
            assert response.status_code in (403, 404), response.text
            if response.status_code == 403:
                assert response.json()["code"] in ("ecriture_non_autorisee", "portee_insuffisante")
    found = await client.get("/v1/carnets", headers=stranger.headers)
    if MATRIX.actor(kind).scopes:
        ids = [item["id"] for item in found.json()["elements"]]
        assert (carnet_id in ids) == steering


async def test_a_member_designated_by_the_departement_is_within_the_need_to_know(client, partner):
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    carnet_id = await new_notebook(client, departement)
    designated = await client.post(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi",
        json={"organisation_id": structure.organisation_id, "role": "referent"},
        headers=departement.headers,
    )
    assert (await read(client, structure, carnet_id)).status_code == 200
    await client.delete(
        f"/v1/carnets/{carnet_id}/groupe-de-suivi/{designated.json()['id']}",
        headers=departement.headers,
    )
    assert (await read(client, structure, carnet_id)).status_code == 404


# -- purpose -------------------------------------------------------------------------------------


async def test_a_purpose_is_required_and_must_be_open_to_the_actor_kind(client, partner):
    caf = await partner("caf_msa")
    headers = {"Authorization": caf.headers["Authorization"]}
    missing = await client.get("/v1/carnets", headers=headers)
    assert missing.status_code == 400
    assert missing.json()["code"] == "finalite_requise"
    wrong = await client.get("/v1/carnets", headers=headers | {"Finalite": "orientation"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "finalite_non_autorisee"
    unknown = await client.get("/v1/carnets", headers=headers | {"Finalite": "controle_fraude"})
    assert unknown.status_code == 403


# -- access journal ------------------------------------------------------------------------------


async def test_every_access_is_journaled_without_personal_data(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    await read(client, departement, carnet_id)
    await read(client, departement, carnet_id, "/droits")
    await contribute(client, departement, carnet_id, {"coordonnees": {"courriel": "b@example.org"}})
    await client.get("/v1/carnets", headers=departement.headers)
    stranger = await partner("structure_insertion")
    await read(client, stranger, carnet_id)
    with db.read() as session:
        entries = session.exec(select(JournalEntry).order_by(col(JournalEntry.seq))).all()
    assert [(e.action, e.resultat) for e in entries] == [
        ("creation", "applique"),
        ("lecture", "servi"),
        ("lecture", "servi"),
        ("ecriture", "applique"),
        ("recherche", "servi"),
        ("recherche", "liste"),  # the notebook the search named
        ("lecture", "hors_besoin"),
    ]
    assert entries[0].categories == sorted(CATEGORIES)
    assert entries[3].categories == ["coordonnees"]
    assert {e.finalite for e in entries} == {"accompagnement"}
    text = " ".join(str(e.model_dump()) for e in entries)
    for personal in ("Exemple", "Héloïse", "1990-04-15", "example.org", "Autrement"):
        assert personal not in text


async def test_the_notebook_journal_shows_an_organisation_its_own_accesses_only(client, partner):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    structure = await partner("structure_insertion")
    await join(client, structure, carnet_id)
    await read(client, structure, carnet_id)
    caf = await partner("caf_msa")
    await read(client, caf, carnet_id)
    first = await client.get(
        f"/v1/carnets/{carnet_id}/journal", params={"limite": 1}, headers=departement.headers
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["action"] for e in page["elements"]] == ["creation"]
    rest = await client.get(
        f"/v1/carnets/{carnet_id}/journal",
        params={"apres": page["suivant"]},
        headers=departement.headers,
    )
    everyone = page["elements"] + rest.json()["elements"]
    assert {e["organisation_id"] for e in everyone} == {departement.organisation_id}
    assert rest.json()["suivant"] is None
    # CAF/MSA reads the rights only: its journal never names another category.
    own = await client.get(f"/v1/carnets/{carnet_id}/journal", headers=caf.headers)
    entries = own.json()["elements"]
    assert {e["organisation_id"] for e in entries} == {caf.organisation_id}
    assert {c for e in entries for c in e["categories"]} <= {"droits"}


# -- every route declares whether it touches personal data ----------------------------------------


def test_every_route_touching_notebooks_requires_a_purpose(settings, db):
    """Every operation under /v1 declares the Finalite header, unless it is declared public
    data or the operators' administration: a new route must say which it is."""
    document = create_app(settings, database=db).openapi()
    # Declared: public data, the operators' administration, the connectors' list and health
    # (no data of persons), and the validate-only API (it checks what it is sent, reads and
    # stores no notebook), and the webhook subscriptions (a target and filters; their
    # deliveries name notebooks by id, as the events the need to know let through).
    public = (
        "/v1/abonnements",
        "/v1/habilitations",
        "/v1/referentiel",
        "/v1/schemas",
        "/v1/admin/",
        "/v1/journal",
        "/v1/connecteurs",
        "/v1/validation/",
    )
    checked = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/") or path.startswith(public):
            continue
        for method, operation in operations.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            assert "Finalite" in headers, f"{method.upper()} {path} touches personal data"
            checked += 1
    assert checked >= 8


# -- per-organisation overrides -----------------------------------------------------------------


def decide(db, p, categorie, droit, effet, **extra):
    from gateway.habilitation.overrides import decide as record

    with db.write() as session:
        return record(
            session,
            MATRIX,
            organisation_id=p.organisation_id,
            categorie=categorie,
            droit=droit,
            effet=effet,
            motif=extra.pop("motif", "Convention du 2026-11-02"),
            auteur=extra.pop("auteur", "DPO du département"),
            **extra,
        )


async def test_a_grant_opens_a_category_to_one_organisation_only(client, partner, db):
    carnet_id, france_travail, _ = await in_scope(client, partner, "france_travail", FULL)
    other = await partner("france_travail")
    await join(client, other, carnet_id)
    assert "justice" in [
        m["categorie"] for m in (await read(client, france_travail, carnet_id)).json()["masques"]
    ]
    decide(db, france_travail, "justice", "lecture", "accorde")
    view = (await read(client, france_travail, carnet_id)).json()
    assert "justice" not in [m["categorie"] for m in view["masques"]]
    served = {c for _, c in classify(view, current_referential())}
    assert "justice" in served
    untouched = (await read(client, other, carnet_id)).json()
    assert "justice" in [m["categorie"] for m in untouched["masques"]]


async def test_a_restriction_withholds_a_category_with_its_own_reason(client, partner, db):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    decide(db, departement, "sante_handicap", "lecture", "retire")
    view = (await read(client, departement, carnet_id)).json()
    assert view["masques"] == [
        {
            "categorie": "sante_handicap",
            "raison": "restriction_organisation",
            "base_legale": MATRIX.base_legale,
        },
        {"categorie": FREE_TEXT, "raison": "auteur_ou_referent", "base_legale": MATRIX.base_legale},
    ]
    assert "/situation/rqth" not in view["provenance"]
    rights = (
        await client.get("/v1/habilitations/organisation", headers=departement.headers)
    ).json()
    assert rights["droits"]["sante_handicap"] == ["ecriture"]
    assert rights["derogations"] == [
        {"categorie": "sante_handicap", "droit": "lecture", "effet": "retire"}
    ]


def test_exporting_sensitive_data_needs_recorded_guarantees(db):
    from gateway.habilitation.overrides import history, lift
    from gateway.organisations.service import create_organisation

    with db.write() as session:
        organisation = create_organisation(
            session, nom="Cap emploi", type_acteur="cap_emploi", territoires=["26"]
        )

    class P:
        organisation_id = organisation.id

    with pytest.raises(ValueError, match="garanties"):
        decide(db, P, "sante_handicap", "export", "accorde")
    with pytest.raises(ValueError, match="motif"):
        decide(db, P, "sante_handicap", "lecture", "retire", motif=" ")
    with pytest.raises(ValueError, match="droit inconnu"):
        decide(db, P, "sante_handicap", "tout", "accorde")
    decide(
        db,
        P,
        "sante_handicap",
        "export",
        "accorde",
        garanties="Chiffrement, habilitations nominatives",
    )
    with db.write() as session:
        lift(session, organisation_id=organisation.id, categorie="sante_handicap", droit="export")
        (decision,) = history(session, organisation.id)
    assert (decision.auteur, decision.actif, decision.garanties) == (
        "DPO du département",
        False,
        "Chiffrement, habilitations nominatives",
    )
    assert decision.leve_le is not None


# -- software publishers: the sandbox ------------------------------------------------------------


async def test_a_publisher_works_in_the_sandbox_and_never_reaches_a_person(client, partner, db):
    from gateway.demo import seed_sandbox
    from referential import default_validator

    departement = await partner("departement")
    real = await new_notebook(client, departement)
    publisher = await partner("editeur_logiciel")
    sandbox = await client.post("/v1/carnets", content=body(carnet()), headers=publisher.headers)
    assert sandbox.status_code == 201, sandbox.text
    assert sandbox.json()["carnet"]["territoire"] == "SBX"
    made_up = sandbox.json()["id"]
    assert (await read(client, publisher, made_up)).status_code == 200
    assert (await read(client, publisher, real)).status_code == 404
    events = {"evenements": SAMPLES["parcours"][1]}
    assert (await contribute(client, publisher, real, events)).status_code == 404
    elsewhere = await client.post(
        "/v1/carnets", content=body(carnet(territoire="26")), headers=publisher.headers
    )
    assert elsewhere.status_code == 403
    assert (await read(client, departement, made_up)).status_code == 404
    assert seed_sandbox(db, default_validator(), 3) == 4
    client.accesses.extend(["carnet bac-a-sable peupler"] * 3)  # journaled creations
    listed = (await client.get("/v1/carnets", headers=publisher.headers)).json()["elements"]
    assert len(listed) == 4
    assert all(item["territoire"] == "SBX" for item in listed)
    for item in listed:
        await read(client, publisher, item["id"])


@pytest.mark.parametrize("purpose", sorted(MATRIX.finalites))
async def test_a_purpose_serves_only_its_categories(client, partner, purpose):
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement, FULL)
    if purpose not in MATRIX.actor("departement").finalites:
        return
    response = await client.get(
        f"/v1/carnets/{carnet_id}", headers=departement.headers | {"Finalite": purpose}
    )
    assert response.status_code == 200
    view = response.json()
    # The département wrote the notebook's free text.
    served = (readable("departement") | {FREE_TEXT}) & MATRIX.served[purpose]
    held = {c for _, c in classify(view, current_referential())}
    assert held <= served
    withheld = {m["categorie"]: m["raison"] for m in view["masques"]}
    assert {c for c, r in withheld.items() if r == "hors_finalite"} == (
        (readable("departement") | {FREE_TEXT}) - MATRIX.served[purpose]
    )


def test_instructing_rsa_rights_serves_neither_health_nor_justice():
    assert {"sante_handicap", "justice"}.isdisjoint(MATRIX.served["instruction_rsa"])
    assert MATRIX.to_wire()["categories_par_finalite"]["instruction_rsa"] == sorted(
        MATRIX.served["instruction_rsa"]
    )
