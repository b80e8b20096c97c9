"""The conformance sample: for every payload kind, valid and invalid examples with the exact
answer of ``POST /v1/validation/{kind}`` (``openapi/examples/<kind>/<name>.json`` and
``<name>.attendu.json``). Publishers use them as fixtures; the OpenAPI document embeds the valid
ones; the tests check every answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from referential import Validator, dumps_stable

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "openapi" / "examples"
EXPECTED_SUFFIX = ".attendu.json"


@dataclass(frozen=True, slots=True)
class Example:
    kind: str
    name: str
    path: Path

    @property
    def meant_valid(self) -> bool:
        """Its name says whether it is valid (``valide…``) or not (``invalide…``)."""
        return self.name.startswith("valide")

    @property
    def expected_path(self) -> Path:
        return self.path.with_name(self.name + EXPECTED_SUFFIX)

    def payload(self) -> bytes:
        return self.path.read_bytes()

    def answer(self, validator: Validator) -> str:
        """What the validation API answers for it, as the expected file holds it."""
        return dumps_stable(validator.validate(self.kind, self.payload()).to_wire())


def examples(directory: Path = EXAMPLES_DIR) -> list[Example]:
    """Every example, by kind and name."""
    found = []
    for path in sorted(directory.glob("*/*.json")):
        if path.name.endswith(EXPECTED_SUFFIX):
            continue
        found.append(Example(kind=path.parent.name, name=path.stem, path=path))
    return found


def openapi_examples(directory: Path = EXAMPLES_DIR) -> dict[str, Any]:
    """The valid examples as OpenAPI ``examples`` of a request body, named ``<kind>-<name>``."""
    return {
        f"{example.kind}-{example.name}": {
            "summary": f"{example.kind} : {example.name}",
            "description": f"openapi/examples/{example.kind}/{example.path.name}",
            "value": orjson.loads(example.payload()),
        }
        for example in examples(directory)
        if example.meant_valid
    }
