"""What the engine says about a payload: findings (errors and warnings) and reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from referential.models import Payload

Level = Literal["erreur", "avertissement"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One error or warning about a payload."""

    pointer: str
    code: str
    message: str
    niveau: Level = "erreur"
    attendu: str | None = None
    suggestion: str | None = None
    ligne: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"pointer": self.pointer, "code": self.code, "message": self.message}
        if self.ligne is not None:
            wire["ligne"] = self.ligne
        if self.attendu is not None:
            wire["attendu"] = self.attendu
        if self.suggestion is not None:
            wire["suggestion"] = self.suggestion
        return wire


@dataclass(slots=True)
class Report:
    """The verdict on one payload: valid when there is no error; warnings never invalidate."""

    kind: str
    version: str
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    value: Payload | None = None
    #: The valid payload as JSON data, from :meth:`Validator.validate_data` (None otherwise).
    data: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_wire(self) -> dict[str, Any]:
        """The report as the validation API and ``carnet validate --json`` give it."""
        return {
            "type": self.kind,
            "valide": self.valid,
            "version_referentiel": self.version,
            "erreurs": [f.to_wire() for f in self.errors],
            "avertissements": [f.to_wire() for f in self.warnings],
        }


def pointer(loc: Iterable[str | int]) -> str:
    """An RFC 6901 JSON Pointer from a location path."""
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in loc)
    return "".join("/" + p for p in parts)
