"""Identity keys of a person: normalised names and partner identifiers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

#: What separates the parts of a name, however it was typed: spaces (any Unicode space, the
#: non-breaking ones too), apostrophes and their look-alikes (typographic quotes, modifier
#: letter apostrophe, primes, acute and grave accents) and hyphens and dashes.
_SEPARATORS = re.compile(
    r"[\s"  # spaces
    r"'\u2018\u2019\u201b\u02bc\u02b9\u2032\u00b4`\uff07"  # ' ‘ ’ ‛ ʼ ʹ ′ ´ ` ＇
    r"\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"  # - ‐ ‑ ‒ – — ― − ﹘ ﹣ －
    r"]+"
)


#: Letters that folding to ASCII would delete, as their ASCII spelling (« Lœuillet », « Æbi »).
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def name_key(name: str) -> str:
    """Case, accents, apostrophes, hyphens and spaces folded: « Lefèvre-d’Aubigné » → lefevre d aubigne.

    The separators become spaces before the text is folded to ASCII, which would delete the
    typographic ones: « N’Diaye », « N'Diaye », « N-Diaye » and « N Diaye » give one key; the
    ligatures are spelt out (« Lœuillet » = « Loeuillet »).
    """
    spaced = _SEPARATORS.sub(" ", unicodedata.normalize("NFKD", name.translate(_LIGATURES)))
    return " ".join(spaced.encode("ascii", "ignore").decode().lower().split())


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
