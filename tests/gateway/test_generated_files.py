"""Generated files are committed: they must equal what the commands generate."""

import json
from pathlib import Path

import jsonschema

from gateway.cli.habilitations import HABILITATIONS_FILE
from gateway.habilitation import load_matrix
from gateway.openapi import OPENAPI_FILE, SCHEMAS_DIR, openapi_document, outgoing_bodies
from referential import OUTGOING_VERSION, default_validator, dumps_stable, payload_schema


def test_published_schemas_equal_the_models():
    current = default_validator()
    for version in current.referential.schema_versions():
        validator = current.for_version(version)
        committed = sorted(p.stem for p in (SCHEMAS_DIR / version).glob("*.json"))
        assert committed == sorted(validator.kinds), "run: carnet schemas export"
        for kind in validator.kinds:
            path = SCHEMAS_DIR / version / f"{kind}.json"
            expected = dumps_stable(payload_schema(validator, kind))
            assert path.read_text(encoding="utf-8") == expected, (
                f"{path} drifted from the models: run `carnet schemas export`"
            )


def test_published_outgoing_schemas_equal_the_models():
    bodies = outgoing_bodies()
    committed = sorted(p.stem for p in (SCHEMAS_DIR / OUTGOING_VERSION).glob("*.json"))
    assert committed == [b.kind for b in bodies], "run: carnet schemas export"
    assert {"changement", "changements", "webhook", "departement_si_evenement"} <= set(committed)
    for body in bodies:
        path = SCHEMAS_DIR / OUTGOING_VERSION / f"{body.kind}.json"
        assert path.read_text(encoding="utf-8") == dumps_stable(body.schema()), (
            f"{path} drifted from the models: run `carnet schemas export`"
        )


def test_published_schemas_pass_the_meta_schema():
    for path in Path(SCHEMAS_DIR).glob("*/*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_openapi_document_equals_the_app():
    assert OPENAPI_FILE.read_text(encoding="utf-8") == openapi_document(), (
        "openapi/openapi.json drifted: run `carnet openapi export`"
    )


def test_the_readable_matrix_equals_the_data():
    assert HABILITATIONS_FILE.read_text(encoding="utf-8") == load_matrix().to_markdown(), (
        "docs/habilitations.md drifted: run `carnet habilitations export`"
    )
