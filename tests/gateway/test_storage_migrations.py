"""Migrations that carry stored data over: what an older gateway stored reads the same after."""

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from gateway.notebooks import repository
from gateway.storage.database import MIGRATIONS, Database
from tests.gateway.conftest import fresh_database

VIEW = '{"id":"c-1","version":1,"personne":{"nom":"Éloïse Œuvre","prenom":"Zoé"}}'


def _downgrade(database: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_views_stored_as_text_are_served_as_their_utf8_bytes_and_back(db, tmp_path):
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
                {"document": '{"unites": {}, "collections": {}}', "vue": VIEW, "now": now},
            )
        old.migrate()
        with old.read() as session:
            vue, categories = repository.stored_view(session, "c-1")
        assert vue == VIEW.encode()
        assert categories == ["identite"]
        _downgrade(old, "0010")
        with old.read() as session:
            (back,) = session.execute(text("SELECT vue FROM carnets")).one()
        assert back == VIEW
