"""Migrations that carry stored data over: what an older gateway stored reads the same after."""

import json
from datetime import UTC, date, datetime
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from gateway.notebooks.identity import name_key
from gateway.storage import notebooks as repository
from gateway.storage.database import MIGRATIONS, Database
from tests.gateway.conftest import fresh_database

PROVENANCE = {"source": "organisation:o", "type_acteur": "departement", "client": "cli_o"}
JANUARY = PROVENANCE | {"observe_le": "2026-01-01T00:00:00Z", "recu_le": "2026-01-01T00:00:00Z"}
FEBRUARY = PROVENANCE | {"observe_le": "2026-02-01T00:00:00Z", "recu_le": "2026-02-01T00:00:00Z"}
#: A view as the gateway renders it (orjson), with the members of three sections.
VIEW = orjson.dumps(
    {
        "id": "c-1",
        "version": 1,
        "territoire": "26",
        "version_referentiel": "2026.1",
        "cree_le": "2026-01-01T00:00:00Z",
        "modifie_le": "2026-02-01T00:00:00Z",
        "personne": {"nom": "Éloïse Œuvre", "prenom": "Zoé"},
        "droits": {"are": True},
        "diagnostic": {
            "situations": [{"code": "logement.sans_hebergement", "provenance": FEBRUARY}]
        },
        "provenance": {
            "/personne/nom": JANUARY,
            "/personne/prenom": JANUARY,
            "/droits/are": FEBRUARY,
        },
        "libelles": {"situations": {"logement.sans_hebergement": "Sans hébergement"}},
    }
).decode()
STATE = {
    "unites": {
        "/personne/nom": {"v": "Éloïse Œuvre", "p": "0"},
        "/droits/are": {"v": True, "p": "1"},
        "/personne/prenom": {"v": "Zoé", "p": "0"},
    },
    "collections": {
        "/diagnostic/situations": {
            'organisation:o|cle:"logement.sans_hebergement"': {
                "v": {"code": "logement.sans_hebergement"},
                "p": "1",
                "supprime": False,
            }
        },
        "/rendez_vous": {},
    },
    "provenances": {
        "0": JANUARY,
        "1": FEBRUARY,
    },
    "prochaine": 2,
}


def _downgrade(database: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_stored_views_and_states_read_the_same_after_the_upgrade_and_back(db, tmp_path):
    """0011: a view stored as text reads as its UTF-8 bytes. 0012: a state stored whole reads
    the same from its section parts (one row per section holding something). 0013: the view
    stored whole reads the same from its pieces (the sections' rows, the head, the labels; 0014:
    the labels in a row of their own). Both come back as they were after a downgrade."""
    for old in fresh_database(db.dialect, tmp_path, revision="0010"):
        now = datetime.now(UTC)
        with old.write() as session:
            session.execute(
                text(
                    "INSERT INTO carnets (id, territoire, version, nom_cle, prenom_cle,"
                    " date_naissance, document, vue, categories, cree_le, modifie_le)"
                    " VALUES ('c-1', '26', 1, 'oeuvre', 'zoe', '1990-01-01', :document, :vue,"
                    " '[\"identite\"]', :now, :now)"
                ),
                {"document": json.dumps(STATE), "vue": VIEW, "now": now},
            )
        old.migrate()
        with old.read() as session:
            vue, categories = repository.stored_view(session, "c-1")
            state = repository.document(session, "c-1")
            sections = session.execute(text("SELECT volet FROM carnets_etats")).scalars().all()
            pieces = session.execute(
                text("SELECT volet, vue, provenance FROM carnets_etats ORDER BY volet")
            ).all()
        assert vue == VIEW.encode()
        view = orjson.loads(VIEW)
        assert [(volet, orjson.loads(value)) for volet, value, _ in pieces] == [
            (name, view[name]) for name in ("diagnostic", "droits", "personne")
        ]
        assert [bytes(held or b"") for _, _, held in pieces] == [
            b"",
            b'"/droits/are":' + orjson.dumps(FEBRUARY),
            b'"/personne/nom":%s,"/personne/prenom":%s' % ((orjson.dumps(JANUARY),) * 2),
        ]
        assert categories == ["identite"]
        assert state == STATE | {
            "collections": {k: v for k, v in STATE["collections"].items() if v}
        }
        assert sorted(sections) == ["diagnostic", "droits", "personne"]
        _downgrade(old, "0010")
        with old.read() as session:
            back, document = session.execute(text("SELECT vue, document FROM carnets")).one()
        assert back == VIEW
        assert (json.loads(document) if isinstance(document, str) else document) == state


def _notebook_with_names(carnet_id: str, nom_cle: str, prenom_cle: str, now: datetime) -> dict:
    return {
        "id": carnet_id,
        "nom_cle": nom_cle,
        "prenom_cle": prenom_cle,
        "document": json.dumps({"provenances": {"0": JANUARY}, "prochaine": 1}),
        "tete": b'"id":"%s","version":1' % carnet_id.encode(),
        "now": now,
    }


def _insert_notebooks(session: Any, notebooks: list[dict], categories: list[str]) -> None:
    """Notebooks as :func:`_notebook_with_names` gives them, holding ``categories``."""
    session.execute(
        text(
            "INSERT INTO carnets (id, territoire, version, nom_cle, prenom_cle,"
            " date_naissance, document, tete, categories, cree_le, modifie_le)"
            " VALUES (:id, '26', 1, :nom_cle, :prenom_cle, '1990-04-15', :document,"
            " :tete, :categories, :now, :now)"
        ),
        [notebook | {"categories": json.dumps(categories)} for notebook in notebooks],
    )


def _name_keys(database: Database) -> dict[str, tuple[str, str]]:
    with database.read() as session:
        rows = session.execute(text("SELECT id, nom_cle, prenom_cle FROM carnets"))
        return {carnet_id: (nom, prenom) for carnet_id, nom, prenom in rows}


def test_name_keys_of_stored_notebooks_are_folded_again(db, tmp_path):
    """0017: the keys of the names stored by the former folding (typographic separators
    deleted) are computed again from the names of each notebook's state, so that « N'Diaye »
    finds the notebook of « N’Diaye »; a notebook without names in its state keeps its keys.
    The downgrade gives back the former keys."""
    revision = ScriptDirectory(str(MIGRATIONS)).get_revision("0017")
    assert revision is not None
    names = {"/personne/nom": {"v": "N\u2019Diaye", "p": "0"}}
    names["/personne/prenom"] = {"v": "Marie\u2011H\u00e9l\u00e8ne", "p": "0"}
    # More notebooks than the migration reads at once.
    typographic = [f"c-{n:04d}" for n in range(1001)]
    for old in fresh_database(db.dialect, tmp_path, revision="0015"):
        now = datetime.now(UTC)
        notebooks = [_notebook_with_names(c, "ndiaye", "mariehelene", now) for c in typographic]
        notebooks.append(_notebook_with_names("d-ascii", "lefevre d aubigne", "elise", now))
        notebooks.append(_notebook_with_names("d-nameless", "ndiaye", "awa", now))
        parts = [
            {"carnet_id": c, "etat": orjson.dumps({"unites": names, "collections": {}})}
            for c in typographic
        ]
        ascii_names = {
            "/personne/nom": {"v": "Lef\u00e8vre-d'Aubign\u00e9", "p": "0"},
            "/personne/prenom": {"v": "\u00c9lise", "p": "0"},
        }
        parts.append(
            {
                "carnet_id": "d-ascii",
                "etat": orjson.dumps({"unites": ascii_names, "collections": {}}),
            }
        )
        with old.write() as session:
            _insert_notebooks(session, notebooks, ["identite"])
            session.execute(
                text(
                    "INSERT INTO carnets_etats (carnet_id, volet, etat)"
                    " VALUES (:carnet_id, 'personne', :etat)"
                ),
                parts,
            )

        old.migrate()
        assert _name_keys(old) == {
            **dict.fromkeys(typographic, ("n diaye", "marie helene")),
            "d-ascii": ("lefevre d aubigne", "elise"),
            "d-nameless": ("ndiaye", "awa"),
        }
        with old.read() as session:
            nom, prenom = name_key("N'Diaye"), name_key("Marie-H\u00e9l\u00e8ne")
            found = repository.by_identity(session, "26", nom, prenom, date(1990, 4, 15))
        assert sorted(row.id for row in found) == typographic
        _downgrade(old, str(revision.down_revision))
        assert _name_keys(old) == {
            **dict.fromkeys(typographic, ("ndiaye", "mariehelene")),
            "d-ascii": ("lefevre d aubigne", "elise"),
            "d-nameless": ("ndiaye", "awa"),
        }


def test_only_creators_keep_their_access_as_follow_up_members(db, tmp_path, caplog):
    """0016: the links of ``liens`` made by writing (``contributeur``) or by a SIRET typed into
    the notebook (``groupe_suivi``) are dropped; a creator becomes a member with the basis
    ``creation``; the migration says how many were dropped. The downgrade gives the current
    members back as links."""
    now = datetime.now(UTC)
    for old in fresh_database(db.dialect, tmp_path, revision="0015"):
        with old.write() as session:
            session.execute(
                text(
                    "INSERT INTO carnets (id, territoire, version, nom_cle, prenom_cle,"
                    " date_naissance, document, tete, categories, cree_le, modifie_le)"
                    " VALUES ('c-1', '26', 1, 'exemple', 'zoe', '1990-04-15', :document,"
                    " :tete, '[]', :now, :now)"
                ),
                {"document": json.dumps({"prochaine": 0}), "tete": b'"id":"c-1"', "now": now},
            )
            session.execute(
                text(
                    "INSERT INTO liens (carnet_id, organisation_id, nature, cree_le)"
                    " VALUES ('c-1', 'o-creatrice', 'createur', :now),"
                    " ('c-1', 'o-creatrice', 'contributeur', :now),"
                    " ('c-1', 'o-ecrivaine', 'contributeur', :now),"
                    " ('c-1', 'o-saisie', 'groupe_suivi', :now)"
                ),
                {"now": now},
            )
        with caplog.at_level("WARNING", logger="alembic.runtime.migration"):
            old.migrate("0016")
        assert "1 lien(s) de créateur" in caplog.text
        assert "3 lien(s) supprimé(s)" in caplog.text
        assert "2 organisation(s)-carnet(s) perdent l'accès" in caplog.text
        with old.read() as session:
            members = session.execute(
                text("SELECT carnet_id, organisation_id, role, base, jusqu_au FROM groupe_suivi")
            ).all()
            assert [tuple(m) for m in members] == [
                ("c-1", "o-creatrice", "membre", "creation", None)
            ]
            assert repository.linked(session, "c-1", "o-creatrice")
            assert not repository.linked(session, "c-1", "o-ecrivaine")
            assert not repository.linked(session, "c-1", "o-saisie")
        _downgrade(old, "0015")
        with old.read() as session:
            links = session.execute(text("SELECT organisation_id, nature FROM liens")).all()
        assert [tuple(link) for link in links] == [("o-creatrice", "createur")]


def test_idempotency_records_lose_the_notebooks_their_answers_embedded(db, tmp_path):
    """0019: the ``carnet`` member of a stored answer is dropped, ``avec_carnet`` set and the
    notebook's id kept; other answers are left as they were. The downgrade keeps the bodies
    stripped."""
    head = {"id": "c-1", "version": 2, "cree": False, "resultat": {}, "avertissements": []}
    embedded = orjson.dumps(head | {"carnet": {"personne": {"nom": "Quillebeuf"}}})
    discovery = orjson.dumps({"id": "c-2", "groupe_suivi": [], "rattachement": "/r"})
    # More records than the migration reads at once.
    keys = [f"avec-{n:03d}" for n in range(501)]
    now = datetime.now(UTC)
    for old in fresh_database(db.dialect, tmp_path, revision="0018"):
        records = [{"cle": k, "corps": embedded, "now": now} for k in keys]
        with old.write() as session:
            session.execute(
                text(
                    "INSERT INTO idempotence (client_id, cle, empreinte, statut, corps, entetes,"
                    " cree_le) VALUES ('cli', :cle, 'e', 200, :corps, '{}', :now)"
                ),
                [*records, {"cle": "sans", "corps": discovery, "now": now}],
            )
        old.migrate()
        query = "SELECT cle, corps, avec_carnet, carnet_id FROM idempotence ORDER BY cle"
        with old.read() as session:
            rows = [tuple(row) for row in session.execute(text(query))]
        assert [(cle, bytes(corps), bool(flag), c) for cle, corps, flag, c in rows] == [
            *[(k, orjson.dumps(head), True, "c-1") for k in keys],
            ("sans", discovery, False, None),
        ]
        _downgrade(old, "0018")
        with old.read() as session:
            bodies = session.execute(text("SELECT corps FROM idempotence ORDER BY cle")).all()
        assert [bytes(corps) for (corps,) in bodies] == [orjson.dumps(head)] * 501 + [discovery]


def _categories(database: Database) -> dict[str, list[str]]:
    with database.read() as session:
        rows = session.execute(text("SELECT id, categories FROM carnets"))
        return {c: json.loads(held) if isinstance(held, str) else held for c, held in rows}


def test_notebooks_holding_free_text_get_its_category(db, tmp_path):
    """0022: a notebook whose stored view shows free text (an event's label, an appointment's
    subject, the orientation's reason, a job title, an action's label) gets the category
    ``texte_libre``, so that a read projects it instead of serving the view as stored; the
    others keep theirs. The downgrade removes it."""
    event = {"id": "e", "type": "autre", "date": "2026-01-05T10:00:00Z", "libelle": "Suivi"}
    action = {"hors_referentiel": True, "libelle": "Démarches", "statut": "en_cours"}
    objectif = {"code": "logement.acceder_logement", "statut": "en_cours", "actions": [action]}
    views = {
        "evenements": [event],
        "rendez_vous": [
            {"id": "r", "date": "2026-01-05T10:00:00Z", "statut": "a_venir", "objet": "x"}
        ],
        "orientation": {"type": "social", "date": "2026-01-01", "motif": "Parce que"},
        "situation": {"projets_professionnels": [{"code_rome": "K2204", "appellation": "x"}]},
        "axes": [{"theme": "logement", "objectifs": [objectif]}],
    }
    plain = {
        "rendez_vous": [{"id": "r", "date": "2026-01-05T10:00:00Z", "statut": "a_venir"}],
        "orientation": {"type": "social", "date": "2026-01-01"},
        "droits": {"are": True},
    }
    # More notebooks than the migration reads at once, the ones with free text among them.
    with_text = [f"t-{n:03d}-{section}" for n in range(101) for section in views]
    without = [f"u-{section}" for section in plain]
    now = datetime.now(UTC)
    for old in fresh_database(db.dialect, tmp_path, revision="0021"):
        notebooks = [_notebook_with_names(c, "nom", "prenom", now) for c in [*with_text, *without]]
        parts = [
            {
                "carnet_id": c,
                "volet": c.split("-")[-1],
                "vue": orjson.dumps(views[c.split("-")[-1]]),
            }
            for c in with_text
        ] + [{"carnet_id": c, "volet": c[2:], "vue": orjson.dumps(plain[c[2:]])} for c in without]
        with old.write() as session:
            _insert_notebooks(session, notebooks, ["parcours"])
            session.execute(
                text(
                    "INSERT INTO carnets_etats (carnet_id, volet, etat, vue)"
                    " VALUES (:carnet_id, :volet, '{}', :vue)"
                ),
                parts,
            )
        old.migrate()
        assert _categories(old) == {
            **{key: ["parcours", "texte_libre"] for key in with_text},
            **{key: ["parcours"] for key in without},
        }
        _downgrade(old, "0021")
        assert _categories(old) == {key: ["parcours"] for key in [*with_text, *without]}


def test_a_nir_and_an_identifier_become_unique_per_territory(db, tmp_path):
    """0023: the NIR moves to ``carnets.nir``, unique with the territory, and the partner
    identifiers get their notebook's territory: another territory may then hold the same.
    The downgrade gives the national uniqueness back."""
    now = datetime.now(UTC)
    for old in fresh_database(db.dialect, tmp_path, revision="0022"):
        with old.write() as session:
            _insert_notebooks(session, [_notebook_with_names("c-26", "nom", "p", now)], [])
            session.execute(text("UPDATE carnets SET nir13 = '1900599999001'"))
            session.execute(
                text(
                    "INSERT INTO identifiants (type, valeur, carnet_id)"
                    " VALUES ('france_travail', 'FT-1', 'c-26')"
                )
            )
        old.migrate()
        with old.write() as session:
            assert session.execute(text("SELECT id, nir FROM carnets")).all() == [
                ("c-26", "1900599999001")
            ]
            assert session.execute(
                text("SELECT type, valeur, territoire, carnet_id FROM identifiants")
            ).all() == [("france_travail", "FT-1", "26", "c-26")]
            # Another territory holds the same NIR and identifier.
            _insert_notebooks(session, [_notebook_with_names("c-07", "nom", "p", now)], [])
            session.execute(
                text(
                    "UPDATE carnets SET territoire = '07', nir = '1900599999001' WHERE id = 'c-07'"
                )
            )
            session.execute(
                text(
                    "INSERT INTO identifiants (type, valeur, territoire, carnet_id)"
                    " VALUES ('france_travail', 'FT-1', '07', 'c-07')"
                )
            )
            session.execute(text("DELETE FROM identifiants WHERE carnet_id = 'c-07'"))
            session.execute(text("DELETE FROM carnets WHERE id = 'c-07'"))
        _downgrade(old, "0022")
        with old.read() as session:
            assert session.execute(text("SELECT id, nir13 FROM carnets")).all() == [
                ("c-26", "1900599999001")
            ]
            assert session.execute(
                text("SELECT type, valeur, carnet_id FROM identifiants")
            ).all() == [("france_travail", "FT-1", "c-26")]
