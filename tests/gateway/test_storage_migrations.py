"""Migrations that carry stored data over: what an older gateway stored reads the same after."""

import json
from datetime import UTC, datetime

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from gateway.notebooks import repository
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
