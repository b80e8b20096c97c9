"""Identity keys of a person: normalised names and partner identifiers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

_SEPARATORS = re.compile(r"[\s'’\-]+")


def name_key(name: str) -> str:
    """Case, accents, apostrophes, hyphens and spaces folded: « Lefèvre-d’Aubigné » → lefevre d aubigne."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return _SEPARATORS.sub(" ", text).strip()


def partner_identifiers(identifiants: Mapping[str, Any] | None) -> dict[str, str]:
    """type → stored value of each partner identifier of a ``personne.identifiants`` block.

    A département IS identifier is only unique within its département, so the département is
    part of its value.
    """
    if not identifiants:
        return {}
    found: dict[str, str] = {}
    caf = identifiants.get("caf_msa")
    if caf:
        found["caf_msa"] = f"{caf['organisme']}:{caf['numero_organisme']}:{caf['matricule']}"
    france_travail = identifiants.get("france_travail")
    if france_travail:
        found["france_travail"] = str(france_travail["identifiant"])
    si = identifiants.get("si_departement")
    if si:
        found["si_departement"] = f"{si['departement']}:{si['identifiant']}"
    return found
