"""The bodies that leave the gateway (webhooks, connector deliveries, the change feed): their
published JSON Schemas (2020-12) and the check a body passes before it is sent.

They are versioned apart from the referential: :data:`OUTGOING_VERSION` is the version of
their shapes, in their ``$id`` and in the folder they are published in
(``openapi/schemas/<version>/<kind>.json``). A body is checked as the bytes that would be sent,
against the model the published schema is generated from, so the schema is what is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from referential._findings import pointer
from referential._schema import DIALECT, schema_id
from referential._validation import _french

#: The version of the outgoing shapes (bumped when one of them changes incompatibly).
OUTGOING_VERSION = "sortants-1"
_TAGS = {"union_tag_invalid": "valeur_invalide", "union_tag_not_found": "champ_obligatoire"}


@dataclass(frozen=True, slots=True)
class Violation:
    """Where an outgoing body departs from its schema: a JSON Pointer and a stable code (never
    a value of the body)."""

    pointer: str
    code: str

    def to_wire(self) -> dict[str, str]:
        return {"pointer": self.pointer, "code": self.code}


class OutgoingBody:
    """One kind of outgoing body: its model, its published schema, its check."""

    def __init__(
        self,
        kind: str,
        model: Any,
        *,
        description: str,
        mode: Literal["validation", "serialization"] = "validation",
    ) -> None:
        self.kind = kind
        self.description = description
        self.mode = mode
        self.adapter: TypeAdapter[Any] = TypeAdapter(model)

    @property
    def schema_id(self) -> str:
        return schema_id(OUTGOING_VERSION, self.kind)

    def schema(self) -> dict[str, Any]:
        """The JSON Schema as published."""
        schema = self.adapter.json_schema(mode=self.mode)
        schema.pop("title", None)
        schema.pop("description", None)
        return {
            "$schema": DIALECT,
            "$id": self.schema_id,
            "title": f"{self.kind} — corps sortants {OUTGOING_VERSION}",
            "description": self.description,
            **schema,
        }

    def violations(self, body: bytes) -> list[Violation]:
        """What is wrong with ``body`` (empty: it may be sent)."""
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return [Violation("", "json_invalide")]
        try:
            # The models are strict (their config), but for the fields that say otherwise
            # (a timestamp is a string in JSON).
            self.adapter.validate_python(document)
        except ValidationError as error:
            return [_violation(document, e) for e in error.errors(include_url=False)]
        return []


def _violation(document: Any, error: ErrorDetails) -> Violation:
    loc = error["loc"]
    if error["type"] in _TAGS:
        # A union told apart by a member (``type``): the error is that member's.
        tag = str((error.get("ctx") or {}).get("discriminator", "")).strip("'")
        return Violation(_located(document, (*loc, tag)), _TAGS[error["type"]])
    return Violation(_located(document, loc), _french(error, None)[0])


def _located(document: Any, loc: tuple[str | int, ...]) -> str:
    """The pointer of an error into the document: the steps of ``loc`` that name no member of
    the document (the tags pydantic adds for the branches of a union) are left out; the last
    step stays (a missing member)."""
    path: list[str | int] = []
    node = document
    for position, step in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        elif not last:
            continue
        path.append(step)
    return pointer(path)
