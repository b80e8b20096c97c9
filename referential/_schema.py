"""Published JSON Schemas (2020-12), one per payload kind and referential version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from referential._referential import Referential
from referential._types import CODE_LIST_KEY, CodeRef, building
from referential._validation import Validator

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_id(version: str, kind: str) -> str:
    return f"urn:carnet-de-bord:schemas:{version}:{kind}"


def _code_list_def(referential: Referential, version: str, ref: CodeRef) -> dict[str, Any]:
    liste = ref.liste
    accepted = set(ref.codes(referential, version))
    entries = [e for e in referential.entries(liste, version) if e.code in accepted]
    deprecated = [e.code for e in entries if e.deprecated_in(version)]
    description = referential.lists[liste].description
    if ref.role == "axe":
        description += " Seuls les axes de travail sont acceptés."
    if deprecated:
        description += (
            " Codes dépréciés (acceptés avec un avertissement) : " + ", ".join(deprecated) + "."
        )
    return {
        "type": "string",
        "title": f"Code de la liste « {liste} »",
        "description": description,
        "enum": [e.code for e in entries],
        "x-libelles": {e.code: e.libelle for e in entries},
    }


def _replace_code_lists(node: Any, used: dict[str, CodeRef]) -> Any:
    if isinstance(node, dict):
        if CODE_LIST_KEY in node:
            liste, role = node[CODE_LIST_KEY]
            ref = CodeRef(liste, role)
            used[ref.def_name] = ref
            replaced = {k: v for k, v in node.items() if k not in (CODE_LIST_KEY, "type")}
            replaced["$ref"] = f"#/$defs/{ref.def_name}"
            return replaced
        return {k: _replace_code_lists(v, used) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_code_lists(v, used) for v in node]
    return node


def payload_schema(validator: Validator, kind: str) -> dict[str, Any]:
    """The JSON Schema of one payload kind, as published."""
    model = validator.models.kinds[kind]
    # Fields that publish the referential's data (the versions) read it from the build context.
    token = building.set((validator.referential, validator.version))
    try:
        raw = model.model_json_schema(mode="validation")
    finally:
        building.reset(token)
    used: dict[str, CodeRef] = {}
    schema = _replace_code_lists(raw, used)
    defs = schema.setdefault("$defs", {})
    for name, ref in sorted(used.items()):
        defs[name] = _code_list_def(validator.referential, validator.version, ref)
    header = {
        "$schema": DIALECT,
        "$id": schema_id(validator.version, kind),
        "title": f"{kind} — référentiel {validator.version}",
    }
    description = schema.pop("description", None) or (model.__doc__ or "").strip()
    header["description"] = (
        f"{description}\n\nVérifications que JSON Schema ne peut pas exprimer, faites par la "
        "passerelle : clé du NIR, date de naissance ni future ni contraire à l'année ou au mois "
        "du NIR, clé de Luhn du SIRET, cohérence des périodes (fin après début), "
        "action codée ou hors référentiel avec libellé. Les entiers s'écrivent sans partie décimale."
    ).strip()
    schema.pop("title", None)
    return {**header, **schema}


def export_schemas(validator: Validator, directory: Path) -> list[Path]:
    """Write ``<directory>/<version>/<kind>.json`` for every kind; sorted and stable."""
    target = directory / validator.version
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in sorted(validator.kinds):
        path = target / f"{kind}.json"
        path.write_text(dumps_stable(payload_schema(validator, kind)), encoding="utf-8")
        written.append(path)
    return written


def dumps_stable(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
