"""The labels of the codes of a view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from referential import Validator


def labels(view: Mapping[str, Any], validator: Validator) -> dict[str, dict[str, str]]:
    """Label of every code in the view, by list."""
    found: dict[str, dict[str, str]] = {}
    for code, liste in validator.codes_in("carnet", view):
        label = validator.referential.label(liste, code)
        if label is not None:
            found.setdefault(liste, {})[code] = label
    return found
