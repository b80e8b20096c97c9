"""Contributions: merge rules with provenance, per-source ownership, ordering, authority."""

from datetime import UTC, datetime

from sqlmodel import col, select

from gateway.storage.tables import Change
from tests.gateway.payloads import (
    at,
    body,
    carnet,
    contribute,
    join,
    new_notebook,
    personne,
    view,
)


def rsa(etat):
    return {"rsa": {"etat": etat}}


async def test_newer_observation_replaces_and_older_one_is_ignored(client, partner):
    caf = await partner("caf_msa")
    carnet_id = await new_notebook(client, caf)
    march = await contribute(
        client,
        caf,
        carnet_id,
        {"observe_le": at("2026-03-01"), "droits": rsa("rsa_droit_ouvert_versable")},
    )
    assert march.json()["resultat"]["appliques"] == ["/droits/rsa"]
    february = await contribute(
        client, caf, carnet_id, {"observe_le": at("2026-02-01"), "droits": rsa("rsa_clos")}
    )
    assert february.status_code == 200
    assert february.json()["resultat"]["ignores_obsoletes"] == ["/droits/rsa"]
    assert february.json()["version"] == march.json()["version"]
    current = await view(client, caf, carnet_id)
    assert current["droits"]["rsa"]["etat"] == "rsa_droit_ouvert_versable"
    assert current["provenance"]["/droits/rsa"]["observe_le"] == at("2026-03-01")


async def test_observations_within_one_second_keep_their_time_order(client, partner):
    """12:00:00.5 comes after 12:00:00 (stored timestamps have a fraction or none)."""
    caf = await partner("caf_msa")
    carnet_id = await new_notebook(client, caf)
    whole = await contribute(
        client,
        caf,
        carnet_id,
        {"observe_le": "2026-03-01T12:00:00Z", "droits": rsa("rsa_droit_ouvert_versable")},
    )
    assert whole.json()["resultat"]["appliques"] == ["/droits/rsa"]
    later = await contribute(
        client,
        caf,
        carnet_id,
        {"observe_le": "2026-03-01T12:00:00.500Z", "droits": rsa("rsa_clos")},
    )
    assert later.json()["resultat"]["appliques"] == ["/droits/rsa"]
    earlier = await contribute(
        client,
        caf,
        carnet_id,
        {"observe_le": "2026-03-01T12:00:00Z", "droits": rsa("rsa_droit_ouvert_versable")},
    )
    assert earlier.json()["resultat"]["ignores_obsoletes"] == ["/droits/rsa"]
    assert (await view(client, caf, carnet_id))["droits"]["rsa"]["etat"] == "rsa_clos"


async def test_an_observation_of_the_current_second_is_not_in_the_future(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    response = await contribute(client, p, carnet_id, {"observe_le": now, "droits": {"are": True}})
    assert response.status_code == 200, response.text
    assert response.json()["resultat"]["appliques"] == ["/droits/are"]


async def test_caf_is_authoritative_for_rsa_rights(client, partner):
    caf = await partner("caf_msa")
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    await join(client, caf, carnet_id)
    await contribute(
        client,
        caf,
        carnet_id,
        {"observe_le": at("2026-01-01"), "droits": rsa("rsa_droit_ouvert_versable")},
    )
    later = await contribute(
        client, departement, carnet_id, {"observe_le": at("2026-06-01"), "droits": rsa("rsa_clos")}
    )
    assert later.json()["resultat"]["refuses"][0]["pointer"] == "/droits/rsa"
    assert later.json()["resultat"]["refuses"][0]["code"] == "source_non_autoritaire"
    assert (await view(client, caf, carnet_id))["droits"]["rsa"][
        "etat"
    ] == "rsa_droit_ouvert_versable"


async def test_authoritative_source_overrides_a_newer_value_of_another_source(client, partner):
    caf = await partner("caf_msa")
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    await join(client, caf, carnet_id)
    await contribute(
        client, departement, carnet_id, {"observe_le": at("2026-06-01"), "droits": rsa("rsa_clos")}
    )
    response = await contribute(
        client, caf, carnet_id, {"observe_le": at("2026-01-01"), "droits": rsa("rsa_refuse")}
    )
    assert response.json()["resultat"]["appliques"] == ["/droits/rsa"]


async def test_two_sources_asserting_one_situation_show_one_item_with_both_provenances(
    client, partner
):
    """Each source holds its own item; the view shows a situation both assert once, with the
    values of the latest observation and both provenances."""
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    carnet_id = await new_notebook(client, departement)
    await join(client, structure, carnet_id)
    await contribute(
        client,
        departement,
        carnet_id,
        {
            "observe_le": at("2026-03-01"),
            "diagnostic": {"situations": [{"code": "logement.heberge_chez_tiers"}]},
        },
    )
    await contribute(
        client,
        structure,
        carnet_id,
        {
            "observe_le": at("2026-04-01"),
            "diagnostic": {
                "situations": [
                    {"code": "logement.heberge_chez_tiers", "depuis": "2026-02-15"},
                    {"code": "mobilite.permis_b"},
                ]
            },
        },
    )
    items = (await view(client, departement, carnet_id))["diagnostic"]["situations"]
    assert [i["code"] for i in items] == ["logement.heberge_chez_tiers", "mobilite.permis_b"]
    shared, own = items
    assert shared["depuis"] == "2026-02-15"
    assert shared["provenance"]["type_acteur"] == "structure_insertion"
    assert [p["type_acteur"] for p in shared["provenances"]] == [
        "departement",
        "structure_insertion",
    ]
    assert own["provenance"]["type_acteur"] == "structure_insertion"
    assert "provenances" not in own

    # The département closes its own assertion: the structure's remains, alone.
    closed = await contribute(
        client,
        departement,
        carnet_id,
        {
            "observe_le": at("2026-05-01"),
            "diagnostic": {
                "situations": [{"code": "logement.heberge_chez_tiers", "supprime": True}]
            },
        },
    )
    assert closed.json()["resultat"]["appliques"] == ["/diagnostic/situations/0"]
    items = (await view(client, departement, carnet_id))["diagnostic"]["situations"]
    shared = items[0]
    assert shared["code"] == "logement.heberge_chez_tiers"
    assert shared["provenance"]["type_acteur"] == "structure_insertion"
    assert "provenances" not in shared


async def test_a_source_cannot_remove_another_sources_item(client, partner):
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    carnet_id = await new_notebook(client, departement)
    await join(client, structure, carnet_id)
    await contribute(
        client,
        departement,
        carnet_id,
        {"diagnostic": {"situations": [{"code": "mobilite.permis_b"}]}},
    )
    await contribute(
        client,
        structure,
        carnet_id,
        {"diagnostic": {"situations": [{"code": "mobilite.permis_b", "supprime": True}]}},
    )
    items = (await view(client, departement, carnet_id))["diagnostic"]["situations"]
    assert [(i["code"], i["provenance"]["type_acteur"]) for i in items] == [
        ("mobilite.permis_b", "departement")
    ]


async def test_removal_is_explicit_never_inferred_from_absence(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    two = {"situations": [{"code": "mobilite.permis_b"}, {"code": "mobilite.code_obtenu"}]}
    await contribute(client, p, carnet_id, {"diagnostic": two})
    await contribute(
        client, p, carnet_id, {"diagnostic": {"situations": [{"code": "mobilite.code_obtenu"}]}}
    )
    codes = [i["code"] for i in (await view(client, p, carnet_id))["diagnostic"]["situations"]]
    assert codes == ["mobilite.permis_b", "mobilite.code_obtenu"]
    await contribute(
        client,
        p,
        carnet_id,
        {"diagnostic": {"situations": [{"code": "mobilite.permis_b", "supprime": True}]}},
    )
    codes = [i["code"] for i in (await view(client, p, carnet_id))["diagnostic"]["situations"]]
    assert codes == ["mobilite.code_obtenu"]


async def test_a_source_cannot_close_another_sources_objective(client, partner):
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    carnet_id = await new_notebook(client, departement)
    await join(client, structure, carnet_id)
    objectif = {"id": "obj-1", "code": "logement.acceder_logement", "statut": "en_cours"}
    await contribute(
        client, departement, carnet_id, {"axes": [{"theme": "logement", "objectifs": [objectif]}]}
    )
    closing = objectif | {"statut": "abandonne"}
    await contribute(
        client, structure, carnet_id, {"axes": [{"theme": "logement", "objectifs": [closing]}]}
    )
    (axe,) = (await view(client, departement, carnet_id))["axes"]
    statuses = sorted((o["provenance"]["type_acteur"], o["statut"]) for o in axe["objectifs"])
    assert statuses == [("departement", "en_cours"), ("structure_insertion", "abandonne")]


async def test_objective_status_moves_with_newer_observations_of_its_source(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    for day, statut in (
        ("2026-01-01", "en_cours"),
        ("2026-02-01", "realise"),
        ("2026-03-01", "abandonne"),
    ):
        objectif = {"id": "o1", "code": "mobilite.obtenir_permis_conduire", "statut": statut}
        await contribute(
            client,
            p,
            carnet_id,
            {"observe_le": at(day), "axes": [{"theme": "mobilite", "objectifs": [objectif]}]},
        )
    (axe,) = (await view(client, p, carnet_id))["axes"]
    assert [o["statut"] for o in axe["objectifs"]] == ["abandonne"]


async def test_events_are_appended_once_per_source_and_id(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    event = {"id": "evt-1", "type": "autre", "date": "2026-01-05T10:00:00Z", "libelle": "Entretien"}
    first = await contribute(client, p, carnet_id, {"evenements": [event]})
    again = await contribute(client, p, carnet_id, {"evenements": [event | {"libelle": "Modifié"}]})
    assert first.json()["resultat"]["appliques"] == ["/evenements/0"]
    assert again.json()["resultat"]["inchanges"] == ["/evenements/0"]
    events = (await view(client, p, carnet_id))["evenements"]
    assert [e["libelle"] for e in events] == ["Entretien"]


async def test_null_clears_only_a_value_of_the_same_source(client, partner):
    departement = await partner("departement")
    structure = await partner("structure_insertion")
    carnet_id = await new_notebook(client, departement)
    await join(client, structure, carnet_id)
    await contribute(
        client, departement, carnet_id, {"coordonnees": {"courriel": "personne@example.org"}}
    )
    refused = await contribute(client, structure, carnet_id, {"coordonnees": {"courriel": None}})
    assert refused.json()["resultat"]["refuses"][0]["code"] == "valeur_d_une_autre_source"
    cleared = await contribute(client, departement, carnet_id, {"coordonnees": {"courriel": None}})
    assert cleared.json()["resultat"]["appliques"] == ["/coordonnees/courriel"]
    assert "courriel" not in (await view(client, departement, carnet_id)).get("coordonnees", {})


async def test_no_op_contribution_keeps_the_version_and_logs_nothing(client, partner, db):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    document = {"observe_le": at("2026-01-01"), "droits": {"are": True}}
    first = await contribute(client, p, carnet_id, document)
    second = await contribute(client, p, carnet_id, document | {"observe_le": at("2026-01-02")})
    assert first.json()["version"] == second.json()["version"] == 2
    assert second.json()["resultat"]["inchanges"] == ["/droits/are"]
    with db.read() as session:
        changes = session.exec(
            select(Change).where(Change.carnet_id == carnet_id).order_by(col(Change.seq))
        ).all()
    assert [(c.version, c.sections) for c in changes] == [(1, ["personne"]), (2, ["droits"])]


async def test_write_response_says_what_was_applied_per_pointer(client, partner):
    caf = await partner("caf_msa")
    departement = await partner("departement")
    carnet_id = await new_notebook(client, departement)
    await join(client, caf, carnet_id)
    await contribute(
        client, caf, carnet_id, {"observe_le": at("2026-05-01"), "droits": rsa("rsa_clos")}
    )
    response = await contribute(
        client,
        departement,
        carnet_id,
        {
            "observe_le": at("2026-04-01"),
            "droits": {"rsa": {"etat": "rsa_refuse"}, "are": True},
            "diagnostic": {"situations": [{"code": "mobilite.permis_b"}]},
        },
    )
    resultat = response.json()["resultat"]
    assert resultat["appliques"] == ["/droits/are", "/diagnostic/situations/0"]
    assert [r["pointer"] for r in resultat["refuses"]] == ["/droits/rsa"]


async def test_stale_if_match_is_412_and_current_one_applies(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    stale = await contribute(
        client, p, carnet_id, {"droits": {"are": True}}, **{"If-Match": '"v7"'}
    )
    assert stale.status_code == 412
    assert stale.headers["etag"] == '"v1"'
    fresh = await contribute(
        client, p, carnet_id, {"droits": {"are": True}}, **{"If-Match": '"v1"'}
    )
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == '"v2"'


async def test_read_returns_etag_and_304_when_unchanged(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await client.get(f"/v1/carnets/{carnet_id}", headers=p.headers)
    assert response.headers["etag"] == '"v1"'
    cached = await client.get(
        f"/v1/carnets/{carnet_id}", headers=p.headers | {"If-None-Match": '"v1"'}
    )
    assert cached.status_code == 304


async def test_view_gives_labels_beside_codes_and_never_the_nir(client, partner):
    p = await partner()
    document = carnet(personne(nir="290049999900161"))
    document["diagnostic"] = {"situations": [{"code": "logement.heberge_chez_tiers"}]}
    created = await client.post("/v1/carnets", content=body(document), headers=p.headers)
    notebook = created.json()["carnet"]
    assert "nir" not in notebook["personne"]
    assert "2900499999001" not in created.text
    assert (
        notebook["libelles"]["situations"]["logement.heberge_chez_tiers"] == "Hébergé chez un tiers"
    )


async def test_section_read_and_section_write(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    written = await client.patch(
        f"/v1/carnets/{carnet_id}/droits", content=body({"are": True}), headers=p.headers
    )
    assert written.status_code == 200
    assert written.json()["resultat"]["appliques"] == ["/droits/are"]
    section = await client.get(f"/v1/carnets/{carnet_id}/droits", headers=p.headers)
    assert section.json()["droits"] == {"are": True}


async def test_section_write_errors_point_into_the_section_body(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await client.patch(
        f"/v1/carnets/{carnet_id}/droits", content=body({"are": "oui"}), headers=p.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/are"


async def test_unknown_notebook_and_notebook_of_another_territory_are_404(client, partner):
    owner = await partner(territoires=["07"])
    carnet_id = (
        await client.post("/v1/carnets", content=body(carnet()), headers=owner.headers)
    ).json()["id"]
    stranger = await partner(territoires=["26"])
    for target in (carnet_id, "00000000-0000-0000-0000-000000000000"):
        assert (
            await client.get(f"/v1/carnets/{target}", headers=stranger.headers)
        ).status_code == 404
        response = await contribute(client, stranger, target, {"droits": {"are": True}})
        assert response.status_code == 404


async def test_observation_in_the_future_is_refused(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await contribute(
        client, p, carnet_id, {"observe_le": "2999-01-01T00:00:00Z", "droits": {"are": True}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/observe_le"


async def test_contribution_with_a_conflicting_birth_date_is_409(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    response = await contribute(
        client, p, carnet_id, {"personne": personne(date_naissance="1980-01-01")}
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["pointer"] == "/personne/date_naissance"


async def test_contribution_answers_minimal_unless_the_notebook_is_asked_for(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    minimal = await contribute(client, p, carnet_id, {"droits": {"are": True}})
    assert "carnet" not in minimal.json()
    assert minimal.headers["preference-applied"] == "return=minimal"
    full = await contribute(
        client, p, carnet_id, {"droits": {"ass": True}}, Prefer="return=representation"
    )
    assert full.json()["carnet"]["droits"] == {"are": True, "ass": True}
    unchanged = await contribute(
        client, p, carnet_id, {"droits": {"ass": True}}, Prefer="return=representation"
    )
    assert unchanged.json()["carnet"]["version"] == full.json()["version"]


async def test_events_are_read_in_time_order_whatever_their_offsets(client, partner):
    p = await partner()
    carnet_id = await new_notebook(client, p)
    events = [
        {"id": "a", "type": "autre", "date": "2026-01-05T10:00:00+02:00", "libelle": "Deuxième"},
        {"id": "b", "type": "autre", "date": "2026-01-05T09:30:00Z", "libelle": "Troisième"},
        {"id": "c", "type": "autre", "date": "2026-01-05T07:30:00+01:00", "libelle": "Premier"},
    ]
    await contribute(client, p, carnet_id, {"evenements": events})
    read = (await view(client, p, carnet_id))["evenements"]
    assert [e["libelle"] for e in read] == ["Premier", "Deuxième", "Troisième"]
