"""What the engine says about referential versions: the version a payload declares, its status,
and the findings of versions and of codes translated between versions."""

from __future__ import annotations

import re

from referential._findings import Finding, pointer
from referential._referential import VERSION_PATTERN, Referential, Translation

#: Where a payload declares its version: a hint, the validated value has the last word.
_DECLARED = re.compile(rb'"version_referentiel"\s*:\s*"([0-9.]{1,16})"')


def declared_hint(raw: bytes) -> str | None:
    """The version a JSON payload seems to declare (None when it declares none plainly)."""
    if b"version_referentiel" not in raw:
        return None
    found = _DECLARED.search(raw)
    return found[1].decode() if found else None


def version_status(referential: Referential, current: str, version: str | None) -> str:
    """courante (also when undeclared or malformed: the model reports the form), supportee,
    retiree, a_venir or inconnue."""
    if version is None or version == current or not VERSION_PATTERN.fullmatch(version):
        return "courante"
    published = referential.versions.get(version)
    if published is None:
        return "inconnue"
    return "supportee" if published.supported else published.statut


def version_error(
    referential: Referential, version: str, status: str, ligne: int | None
) -> Finding:
    """The refusal of a declared version that is unknown, upcoming or retired."""
    supported = ", ".join(referential.supported_versions())
    if status == "inconnue":
        message = f"Version du référentiel inconnue : « {version} »."
    elif status == "a_venir":
        message = (
            f"La version {version} du référentiel n'est pas encore en vigueur : exprimer le "
            f"contenu dans une version prise en charge ({supported})."
        )
    else:
        end = referential.versions[version].fin_support
        message = (
            f"La version {version} du référentiel n'est plus prise en charge"
            + (f" depuis le {end}" if end else "")
            + f" : exprimer le contenu dans une version prise en charge ({supported})."
        )
    code = {"inconnue": "version_referentiel_inconnue", "a_venir": "version_referentiel_a_venir"}
    return Finding(
        pointer="/version_referentiel",
        code=code.get(status, "version_referentiel_retiree"),
        message=message,
        attendu=supported,
        ligne=ligne,
    )


def translated_warning(
    found: Translation, declared: str, loc: tuple[str | int, ...], ligne: int | None
) -> Finding:
    """A code of an older version replaced by its one replacement."""
    target = found.vers[0]
    return Finding(
        pointer=pointer(loc),
        code="code_traduit",
        message=(
            f"Code « {found.code} » de la version {declared} traduit en « {target} » : il est "
            f"remplacé depuis la version {found.depuis} du référentiel."
        ),
        niveau="avertissement",
        suggestion=target,
        ligne=ligne,
    )


def retired_error(found: Translation, loc: tuple[str | int, ...], ligne: int | None) -> Finding:
    """A code of an older version that is no longer published and has no single replacement."""
    since = (
        f"Le code « {found.code} » n'existe plus depuis la version {found.retire_en} du référentiel"
    )
    if found.vers:
        choices = " ou ".join(f"« {c} »" for c in found.vers)
        return Finding(
            pointer=pointer(loc),
            code="code_retire",
            message=f"{since} : il est remplacé par {choices}, selon la situation.",
            attendu=", ".join(found.vers),
            ligne=ligne,
        )
    return Finding(
        pointer=pointer(loc),
        code="code_retire",
        message=f"{since}, sans remplacement.",
        attendu=f"/v1/referentiel/{found.liste}",
        ligne=ligne,
    )
