"""Writers keep the states they committed: never a state another process replaced, never one of
a transaction that rolled back."""

import httpx

from gateway.app import create_app
from tests.gateway.conftest import BASE_URL
from tests.gateway.payloads import carnet, contribute, new_notebook, personne, view


def rsa(etat):
    return {"rsa": {"etat": etat}}


async def test_a_write_by_another_gateway_process_is_not_lost(settings, db, client, partner):
    """Two gateway processes on one database: each one's next write starts from the stored state,
    not from the state it wrote last."""
    p = await partner()
    carnet_id = await new_notebook(client, p)
    first = await contribute(client, p, carnet_id, {"droits": {"are": True}})
    assert first.status_code == 200, first.text

    other = create_app(settings, database=db)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url=BASE_URL) as peer,
    ):
        meanwhile = await contribute(peer, p, carnet_id, {"droits": rsa("rsa_clos")})
        assert meanwhile.status_code == 200, meanwhile.text
        client.accesses.append("POST contributions (peer)")

    last = await contribute(client, p, carnet_id, {"situation": {"rqth": True}})
    assert last.json()["version"] == meanwhile.json()["version"] + 1
    current = await view(client, p, carnet_id)
    assert current["droits"]["are"] is True
    assert current["droits"]["rsa"]["etat"] == "rsa_clos"
    assert current["situation"]["rqth"] is True


async def test_a_refused_write_leaves_nothing_behind_for_the_next_one(client, partner):
    """A contribution merged in memory then refused (an identifier of another notebook) is rolled
    back: the next write of the same notebook does not carry its values."""
    p = await partner()
    ids = {"france_travail": {"identifiant": "FT-STATE-1"}}
    await new_notebook(client, p, carnet(personne(nom="Un", identifiants=ids)))
    carnet_id = await new_notebook(client, p, carnet(personne(nom="Deux")))
    await contribute(client, p, carnet_id, {"droits": {"are": False}})

    refused = await contribute(
        client,
        p,
        carnet_id,
        {
            "personne": personne(nom="Deux", identifiants=ids),
            "droits": {"are": True, "ass": True},
        },
    )
    assert refused.status_code == 409, refused.text

    after = await contribute(client, p, carnet_id, {"situation": {"rqth": True}})
    assert after.status_code == 200
    current = await view(client, p, carnet_id)
    assert current["droits"]["are"] is False
    assert "ass" not in current["droits"]
    assert current["version"] == after.json()["version"]


def _without_reception(value):
    """``value`` without the reception times (``recu_le``), which differ between two writes."""
    if isinstance(value, dict):
        return {k: _without_reception(v) for k, v in value.items() if k != "recu_le"}
    if isinstance(value, list):
        return [_without_reception(v) for v in value]
    return value


def _closing_first(items):
    return [dict(items[0], supprime=True), *items[1:]] if items else items


def _comparable(document):
    """A view without what differs between two notebooks created apart (ids, times, the
    identity of their persons)."""
    document = _without_reception(document)
    for name in ("id", "cree_le", "modifie_le", "personne"):
        document.pop(name)
    document["provenance"] = {
        pointer: provenance
        for pointer, provenance in document["provenance"].items()
        if not pointer.startswith("/personne/")
    }
    return document


async def test_a_view_rendered_section_by_section_is_the_view_rendered_whole(
    settings, db, client, partner
):
    """A writer that kept the rendered sections of a notebook renders again only the sections a
    contribution changed; a writer without kept states (``state_cache_size=0``) renders the
    whole view at every write. The same contributions from two sources — every section, items
    closed and values cleared — give the same view, write after write."""
    import random

    from referential import samples

    first, second = await partner(), await partner()
    kept = await new_notebook(client, first, carnet(personne(nom="Gardé")))
    whole_app = create_app(settings.model_copy(update={"state_cache_size": 0}), database=db)
    async with (
        whole_app.router.lifespan_context(whole_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=whole_app), base_url=BASE_URL) as w,
    ):
        whole = await new_notebook(w, first, carnet(personne(nom="Entier")))
        client.accesses.append("POST /v1/carnets (whole)")
        rng = random.Random(3)
        sent: dict[str, list[dict]] = {"first": [], "second": []}
        for step in range(14):
            name, source = ("first", first) if step % 2 == 0 else ("second", second)
            if step >= 6 and rng.random() < 0.5:
                # Close what this source sent before, and clear its values.
                document = dict(rng.choice(sent[name]))
                if document.get("rendez_vous"):
                    document["rendez_vous"] = _closing_first(document["rendez_vous"])
                for section in ("situation", "diagnostic", "accompagnement"):
                    if section in document:
                        document[section] = {
                            field: _closing_first(value) if isinstance(value, list) else value
                            for field, value in document[section].items()
                        }
                if "droits" in document:
                    document["droits"] = dict.fromkeys(document["droits"])
            else:
                generated = samples.generate_carnet(random.Random(step), size="normal")
                sections = [s for s in generated if s not in ("personne", "version_referentiel")]
                document = {s: generated[s] for s in rng.sample(sections, rng.randint(1, 4))}
                sent[name].append(document)
            document = dict(document, observe_le=f"2026-01-01T10:{step:02d}:00Z")
            here = await contribute(client, source, kept, document)
            there = await contribute(w, source, whole, document)
            client.accesses += ["POST contributions (whole)", "GET (whole)"]
            assert here.status_code == there.status_code == 200, (here.text, there.text)
            assert here.json()["resultat"] == there.json()["resultat"]
            assert _comparable(await view(client, source, kept)) == _comparable(
                await view(w, source, whole)
            ), f"step {step}"


def _referred(records):
    """The provenance ids units or items (and their actions) refer to."""
    found = set()
    for record in records.values():
        found.add(record["p"])
        found |= _referred(record.get("actions", {}))
    return found


async def test_provenances_no_longer_referred_to_are_forgotten(client, partner, db):
    """Each write records its provenance; those no unit or item refers to any more are
    forgotten once every ``COMPACTION_INTERVAL`` provenances: a state never holds more."""
    from gateway.notebooks.merge import COMPACTION_INTERVAL
    from gateway.storage import notebooks as repository

    p = await partner()
    carnet_id = await new_notebook(client, p)
    compactions = 0
    for step in range(3 * COMPACTION_INTERVAL):
        situations = [{"code": "mobilite.permis_b", "supprime": step % 3 == 0}]
        document = {"droits": {"are": step % 2 == 0}, "diagnostic": {"situations": situations}}
        written = await contribute(client, p, carnet_id, document)
        assert written.status_code == 200, written.text
        with db.read() as session:
            state = repository.document(session, carnet_id)
        referred = _referred(state["unites"])
        for records in state["collections"].values():
            referred |= _referred(records)
        unused = set(state["provenances"]) - referred
        assert len(unused) <= COMPACTION_INTERVAL
        assert referred <= set(state["provenances"])
        if state["prochaine"] % COMPACTION_INTERVAL == 0:
            assert not unused
            compactions += 1
    assert compactions == 3
