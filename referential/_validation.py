"""The validation engine: one payload in, every error and warning out, located and in French.

The same engine serves the HTTP API, the ``carnet validate`` command and the write path.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, SchemaValidator, to_jsonable_python

from referential._build import BoundModels, build_models
from referential._findings import Finding, Report, pointer
from referential._known import AS_SENT, KnownSections
from referential._plain import plain_validator
from referential._referential import Referential, Translation, current_referential
from referential._types import (
    EMAIL_PATTERN,
    FREE_TEXT,
    ONE_LINE,
    CodeRef,
)
from referential._versions import (
    declared_hint,
    retired_error,
    translated_warning,
    version_error,
    version_status,
)
from referential.models import Payload

# -- French messages for pydantic's error types ---------------------------------------------------

_TYPE_NAMES = {
    "string_type": "une chaîne de caractères",
    "int_type": "un nombre entier",
    "bool_type": "un booléen (true ou false)",
    "list_type": "une liste",
    "model_type": "un objet",
    "model_attributes_type": "un objet",
    "dict_type": "un objet",
    "date_type": "une date AAAA-MM-JJ (chaîne)",
    "datetime_type": "un horodatage RFC 3339 (chaîne)",
    "none_required": "null",
}
_JSON_POSITION = re.compile(r"line (\d+) column (\d+)")

_PATTERN_MESSAGES: dict[str, tuple[str, str]] = {
    ONE_LINE: (
        "caracteres_interdits",
        "Texte invalide : caractères de contrôle (retour à la ligne, tabulation…) interdits.",
    ),
    FREE_TEXT: ("caracteres_interdits", "Texte invalide : caractères de contrôle interdits."),
    EMAIL_PATTERN: ("courriel_invalide", "Adresse électronique invalide."),
    r"^(?:0[1-9]|[1-9][0-9])[0-9]{3}$": (
        "code_postal_invalide",
        "Code postal invalide : 5 chiffres, ne commençant pas par 00.",
    ),
    r"^(?:0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$": (
        "departement_invalide",
        "Code de département invalide (01 à 95, 2A, 2B, 971 à 976).",
    ),
    r"^[A-N][0-9]{4}$": (
        "code_rome_invalide",
        "Code ROME invalide : une lettre et quatre chiffres.",
    ),
    r"^[0-9]{4}\.[0-9]+$": (
        "version_referentiel_invalide",
        "Version du référentiel invalide (forme AAAA.N, par exemple 2026.1).",
    ),
}


def _french(error: ErrorDetails, code_list: str | None) -> tuple[str, str, str | None]:
    """(stable code, French message, expected) for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "champ_obligatoire", "Champ obligatoire manquant.", None
    if kind == "extra_forbidden":
        return "champ_inconnu", "Champ inconnu : il ne fait pas partie du schéma.", None
    if kind in _TYPE_NAMES:
        expected = _TYPE_NAMES[kind]
        return "type_invalide", f"Type invalide : la valeur doit être {expected}.", expected
    if kind == "literal_error" and code_list is not None:
        return (
            "code_inconnu",
            f"Code inconnu dans la liste « {code_list} » du référentiel.",
            f"/v1/referentiel/{code_list}",
        )
    if kind == "literal_error" and code_list is None:
        return "valeur_invalide", f"Valeur invalide : {ctx.get('expected')} attendu.", None
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return (
            "date_invalide",
            "Date invalide : une date réelle au format AAAA-MM-JJ est attendue.",
            "AAAA-MM-JJ",
        )
    if kind in ("datetime_parsing", "datetime_from_date_parsing", "timezone_aware"):
        return (
            "horodatage_invalide",
            "Horodatage invalide : format AAAA-MM-JJTHH:MM:SS avec fuseau (Z ou ±HH:MM).",
            None,
        )
    if kind == "string_too_short":
        return (
            "texte_trop_court",
            f"Texte trop court : au moins {ctx.get('min_length')} caractère(s).",
            None,
        )
    if kind == "string_too_long":
        return (
            "texte_trop_long",
            f"Texte trop long : au plus {ctx.get('max_length')} caractères.",
            None,
        )
    if kind == "too_long":
        return "trop_d_elements", f"Trop d'éléments : au plus {ctx.get('max_length')}.", None
    if kind == "too_short":
        return (
            "pas_assez_d_elements",
            f"Pas assez d'éléments : au moins {ctx.get('min_length')}.",
            None,
        )
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        code, message = _PATTERN_MESSAGES.get(pattern, ("format_invalide", "Format invalide."))
        return code, message, pattern
    if kind == "greater_than":
        return (
            "valeur_trop_petite",
            f"Valeur trop petite : strictement supérieure à {ctx.get('gt')} attendue.",
            None,
        )
    if kind == "greater_than_equal":
        return "valeur_trop_petite", f"Valeur trop petite : au moins {ctx.get('ge')} attendu.", None
    if kind == "json_invalid":
        position = _JSON_POSITION.search(str(ctx.get("error", "")))
        where = f" (ligne {position[1]}, colonne {position[2]})" if position else ""
        return "json_invalide", f"JSON mal formé{where}.", None
    if kind == "json_type":
        return "json_invalide", "Le corps doit être un document JSON.", None
    # Errors raised by the project's own validators carry their code and French message.
    return kind, error["msg"], None


# -- where the coded fields are --------------------------------------------------------------------


def _code_lists(model: type[BaseModel]) -> dict[tuple[str, ...], CodeRef]:
    """Location (without list indexes) → referential list, for every coded field of ``model``."""
    found: dict[tuple[str, ...], CodeRef] = {}

    def visit(annotation: Any, path: tuple[str, ...]) -> None:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *metadata = typing.get_args(annotation)
            for item in metadata:
                if isinstance(item, CodeRef):
                    found[path] = item
            visit(base, path)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, hint in typing.get_type_hints(annotation, include_extras=True).items():
                if name in annotation.model_fields:
                    visit(hint, (*path, name))
        else:
            for arg in typing.get_args(annotation):
                visit(arg, path)

    visit(model, ())
    return found


# -- the engine ------------------------------------------------------------------------------------


class Validator:
    """Validates payloads of every kind against one referential version."""

    def __init__(self, referential: Referential, version: str | None = None) -> None:
        self.referential = referential
        self.version = version or referential.current
        self.models: BoundModels = build_models(referential, self.version)
        self._code_lists = {kind: _code_lists(model) for kind, model in self.models.kinds.items()}
        self._code_trees = {kind: _code_tree(lists) for kind, lists in self._code_lists.items()}
        self._deprecated = {
            liste: referential.deprecated_codes(liste, self.version) for liste in referential.lists
        }
        self._deprecated_bytes = tuple(
            {code.encode() for codes in self._deprecated.values() for code in codes}
        )
        self._others: dict[str, Validator] = {}
        self._translations: dict[tuple[str, str], Translation | None] = {}
        self._plain: dict[str, SchemaValidator] = {}
        self._optional: dict[str, frozenset[str]] = {}

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.models.kinds)

    def for_version(self, version: str) -> Validator:
        """The validator of another published version of the same referential (built once)."""
        if version == self.version:
            return self
        found = self._others.get(version)
        if found is None:
            if version not in self.referential.versions:
                raise KeyError(version)
            found = self._others[version] = Validator(self.referential, version)
        return found

    def validate(self, kind: str, body: bytes | str, *, ligne: int | None = None) -> Report:
        """Every error and warning about one JSON payload of ``kind``, and its typed value.

        A payload may declare the referential version its codes are expressed in
        (``version_referentiel``): it is checked against that version, then its codes are
        translated into this validator's version (a warning per translated code), so that the
        value is always expressed in this version. A version past its end of support, or
        unknown, is refused.
        """
        return self._validate(kind, body, ligne, typed=True)

    def check(self, kind: str, body: bytes | str, *, ligne: int | None = None) -> Report:
        """The findings of :meth:`validate`, without the typed value (``report.value`` stays
        None): for the callers that only report them (the validation API, ``carnet
        validate``).

        The payload is validated by the same rules compiled to produce plain dicts
        (:mod:`referential._plain`): instantiating the models is about half of pydantic-core's
        time on a large notebook. A payload declaring an older version, whose codes are
        translated from the typed value, takes the path of :meth:`validate`.
        """
        report = self._validate(kind, body, ligne, typed=False)
        report.value = None
        report.data = None
        return report

    def validate_data(
        self,
        kind: str,
        body: bytes | str,
        *,
        ligne: int | None = None,
        known: KnownSections | None = None,
    ) -> Report:
        """The findings of :meth:`validate`, with the valid payload as JSON data in
        ``report.data`` (``report.value`` stays None): what
        ``value.model_dump(mode="json", exclude_unset=True)`` gives, for the write path.

        The payload is validated as :meth:`check` does, without building the models, and its
        plain dict is carried into JSON types by a round trip through orjson (dates and times
        in the same RFC 3339 forms as pydantic's, UTC as ``Z``). A payload declaring an older
        version is translated from its typed value, then dumped.

        With ``known``, the sections of the payload found valid before (same content, same
        kind, this validator, no finding at all) are taken from there, and only the others are
        validated: when they have no finding either, the report is the same as the full
        validation's; otherwise the payload is validated in full, for findings located in the
        body as sent. Sections of a payload that validates without any finding are remembered.
        """
        raw = body.encode() if isinstance(body, str) else body
        split = None
        if known is not None and known.worth_looking():
            split = self._split(kind, raw, known)
            known.looked(split is not None and bool(split.found))
        if split is not None and split.found:
            found = self._validate_rest(kind, split, ligne)
            if found is not None:
                return found
        report = self._validate(kind, raw, ligne, typed=False)
        value, report.value = report.value, None
        if value is None:
            report.data = None
        elif isinstance(value, BaseModel):
            report.data = value.model_dump(mode="json", exclude_unset=True)
        else:
            report.data = _json_data(value)
        if split is not None and report.data is not None and not report.warnings:
            split.remember(report.data)
        return report

    def _split(self, kind: str, raw: bytes, known: KnownSections) -> _Split | None:
        """The payload's sections looked up in ``known``; None when the payload cannot take
        that path: not a JSON object as orjson reads it, an integer orjson would read as a
        float (20 digits or more; 19 to be safe), or another version of the referential
        declared."""
        if _LONG_NUMBER in raw.translate(_DIGITS):
            return None
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(document, dict):
            return None
        if document.get("version_referentiel", self.version) != self.version:
            return None
        split = _Split(self, kind, known)
        optional = self._optional_fields(kind)
        for name, section in document.items():
            if name in optional and isinstance(section, dict | list):
                content = orjson.dumps(section)
                if len(content) >= KNOWN_MIN_BYTES:
                    data = known.get((self, kind, name, content))
                    if data is not None:
                        # The data is the section as sent, more often than not: this parse.
                        split.found[name] = section if data is AS_SENT else orjson.loads(data)
                        continue
                    split.fresh[name] = content
            split.rest[name] = section
        return split

    def _validate_rest(self, kind: str, split: _Split, ligne: int | None) -> Report | None:
        """The report of a payload whose known sections are ``split.found``, from the
        validation of its other members alone; None when they have any finding."""
        report, value = self._check(kind, orjson.dumps(split.rest), ligne, typed=False)
        if report.errors or report.warnings or not isinstance(value, dict):
            return None
        rest = _json_data(value)
        # The members in the order of the full validation's data: the model's.
        report.data = {}
        for name in self.models.kinds[kind].model_fields:
            if name in rest:
                report.data[name] = rest[name]
            elif name in split.found:
                report.data[name] = split.found[name]
        report.value = None
        split.remember(report.data)
        return report

    def _optional_fields(self, kind: str) -> frozenset[str]:
        """The members of ``kind`` a payload may leave out (a known section is left out of
        the validation of the rest)."""
        found = self._optional.get(kind)
        if found is None:
            fields = self.models.kinds[kind].model_fields
            found = frozenset(name for name, info in fields.items() if not info.is_required())
            self._optional[kind] = found
        return found

    def _validate(self, kind: str, body: bytes | str, ligne: int | None, typed: bool) -> Report:
        raw = body.encode() if isinstance(body, str) else body
        hinted = declared_hint(raw)
        report, declared = self._attempt(kind, raw, hinted, ligne, typed)
        if declared != hinted:
            # The declaration was not where the hint looks (a key written with escapes).
            report, _ = self._attempt(kind, raw, declared, ligne, typed)
        return report

    def _attempt(
        self, kind: str, raw: bytes, version: str | None, ligne: int | None, typed: bool
    ) -> tuple[Report, str | None]:
        """The report of ``raw`` read in ``version`` (None: this one), and the version the
        payload declares as far as it could be read."""
        status = version_status(self.referential, self.version, version)
        engine = self.for_version(version) if status == "supportee" and version else self
        # Codes are translated from the typed value.
        report, value = engine._check(kind, raw, ligne, typed or status == "supportee")
        if value is None:
            declared = version
        else:
            declared = _field(value, "version_referentiel")
            if declared != version:
                return report, declared
        if status in ("inconnue", "retiree", "a_venir") and version is not None:
            report.errors.append(version_error(self.referential, version, status, ligne))
            report.value = None
        elif status == "supportee" and report.value is not None:
            self._translate(kind, report, raw, ligne)
        return report, declared

    def _translation(self, liste: str, code: str) -> Translation | None:
        key = (liste, code)
        if key not in self._translations:
            self._translations[key] = self.referential.translation(liste, code, self.version)
        return self._translations[key]

    def _translate(self, kind: str, report: Report, raw: bytes, ligne: int | None) -> None:
        """Carry a valid report of an older version into this one: codes with one replacement
        are replaced (a warning each); a retired code without a single replacement is an error;
        the warnings are this version's."""
        assert report.value is not None
        replaced: list[tuple[tuple[str | int, ...], str]] = []
        notes: list[Finding] = []
        errors: list[Finding] = []
        for loc, code, ref in _walk_codes(report.value, self._code_trees[kind]):
            found = self._translation(ref.liste, code)
            if found is None:
                continue
            target = found.single
            if target is not None:
                replaced.append((loc, target))
                notes.append(translated_warning(found, report.version, loc, ligne))
            elif found.retire:
                errors.append(retired_error(found, loc, ligne))
        if errors:
            report.errors, report.warnings, report.value = errors, [], None
            return
        if not replaced:
            report.warnings = list(self._warnings(kind, report.value, raw, ligne))
            return
        document = report.value.model_dump(mode="json", exclude_unset=True)
        for loc, target in replaced:
            _set(document, loc, target)
        document["version_referentiel"] = self.version
        current, _ = self._check(kind, orjson.dumps(document), ligne, typed=True)
        report.errors, report.value = current.errors, current.value
        report.warnings = notes + current.warnings

    def _check(self, kind: str, raw: bytes, ligne: int | None, typed: bool) -> tuple[Report, Any]:
        """The findings of ``raw`` in this version alone, and the validated value (None when
        invalid): the model, also kept in the report, when ``typed``; a plain dict otherwise."""
        report = Report(kind=kind, version=self.version)
        value: Any
        try:
            if typed:
                value = report.value = self.models.kinds[kind].model_validate_json(raw)
            else:
                value = report.value = self._plain_validator(kind).validate_json(raw)
        except ValidationError as exc:
            details = exc.errors()
            if not typed and any(e["type"] == "extra_forbidden" for e in details):
                # A key repeated in an object is one unknown field to a model, one per
                # occurrence to a typed dict: the model's findings are the reference.
                return self._check(kind, raw, ligne, typed=True)
            report.errors = [self._finding(kind, e, ligne) for e in details]
            return report, None
        report.warnings = list(self._warnings(kind, value, raw, ligne))
        return report, value

    def _plain_validator(self, kind: str) -> SchemaValidator:
        found = self._plain.get(kind)
        if found is None:
            found = self._plain[kind] = plain_validator(self.models.kinds[kind])
        return found

    def coded_values(
        self, kind: str, document: Mapping[str, Any]
    ) -> Iterator[tuple[str, str, str]]:
        """(JSON Pointer, code, list) of every coded value of a JSON document shaped like ``kind``.

        Keys the payload model does not know (provenance, ids) are skipped.
        """
        for loc, code, ref in _walk_codes(document, self._code_trees[kind]):
            yield pointer(loc), code, ref.liste

    def codes_in(self, kind: str, document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """(code, list) of every coded value of a JSON document shaped like ``kind``."""
        for _loc, code, ref in _walk_codes(document, self._code_trees[kind]):
            yield code, ref.liste

    def _finding(self, kind: str, error: ErrorDetails, ligne: int | None) -> Finding:
        loc = error["loc"]
        # A rule between the fields of an object (a period, the birth date and the NIR) is
        # checked on the object: it names the field its error is about.
        champ = (error.get("ctx") or {}).get("champ")
        if isinstance(champ, str):
            loc = (*loc, champ)
        shape = tuple(p for p in loc if isinstance(p, str))
        ref = self._code_lists[kind].get(shape) if error["type"] == "literal_error" else None
        code_list = ref.liste if ref else None
        code, message, expected = _french(error, code_list)
        if ref is not None and ref.role == "axe":
            message = "Code inconnu : un axe de travail (thème de rôle « axe ») est attendu."
        suggestion = None
        if code_list is not None and isinstance(error.get("input"), str):
            found = self.referential.suggest(code_list, error["input"], self.version)
            if found is not None:
                suggestion = found.code
                message += f" Vouliez-vous dire « {found.code} » ?"
        return Finding(
            pointer=pointer(loc),
            code=code,
            message=message,
            attendu=expected,
            suggestion=suggestion,
            ligne=ligne,
        )

    def _warnings(
        self, kind: str, value: Payload | dict[str, Any], raw: bytes, ligne: int | None
    ) -> Iterator[Finding]:
        # Cheap pre-filter: walk the payload only when a deprecated code (or an escape that
        # could spell one) appears in the raw body.
        if self._deprecated_bytes and (
            b"\\u" in raw or any(needle in raw for needle in self._deprecated_bytes)
        ):
            for loc, code, ref in _walk_codes(value, self._code_trees[kind]):
                entry = self._deprecated[ref.liste].get(code)
                if entry is not None:
                    replacement = ", ".join(entry.remplace_par)
                    yield Finding(
                        pointer=pointer(loc),
                        code="code_deprecie",
                        message=(
                            f"Le code « {code} » est déprécié depuis la version {entry.deprecie_en} "
                            f"du référentiel ; utiliser « {replacement} »."
                        ),
                        niveau="avertissement",
                        suggestion=entry.remplace_par[0],
                        ligne=ligne,
                    )
        yield from self._objective_themes(kind, value, ligne)

    def _objective_themes(
        self, kind: str, value: Payload | dict[str, Any], ligne: int | None
    ) -> Iterator[Finding]:
        """A warning per objective offered under another focus theme than its axis's."""
        prefix: tuple[str | int, ...] = ()
        if kind == "axes":
            axes = [value]
        else:
            axes, prefix = _field(value, "axes") or [], ("axes",)
        for index, axe in enumerate(axes):
            theme = _field(axe, "theme")
            themes = self.referential.axis_objective_themes(theme)
            base: tuple[str | int, ...] = (*prefix, index) if prefix else ()
            for position, objectif in enumerate(_field(axe, "objectifs") or ()):
                code = _field(objectif, "code")
                entry = self.referential.entry(code)
                if entry is not None and entry.theme not in themes:
                    yield Finding(
                        pointer=pointer((*base, "objectifs", position, "code")),
                        code="objectif_hors_axe",
                        message=(
                            f"L'objectif « {code} » n'appartient pas aux objectifs "
                            f"proposés sous l'axe « {theme} »."
                        ),
                        niveau="avertissement",
                        ligne=ligne,
                    )


#: Sections shorter than this (as orjson writes them) are validated again rather than looked up.
KNOWN_MIN_BYTES = 512
#: 19 digits in a row, once every digit is written 0 (a C scan, where a regular expression
#: would cost as much as the validation saved).
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


@dataclass(slots=True)
class _Split:
    """A payload's members: its sections ``found`` valid before (their data), those looked up
    in vain (their content), and the members to validate (``rest``)."""

    validator: Validator
    kind: str
    known: KnownSections
    found: dict[str, Any] = field(default_factory=dict)
    fresh: dict[str, bytes] = field(default_factory=dict)
    rest: dict[str, Any] = field(default_factory=dict)

    def remember(self, data: Mapping[str, Any]) -> None:
        """Remember the sections looked up in vain, valid without a finding, with their data
        in ``data`` (the payload's)."""
        for name, content in self.fresh.items():
            self.known.put((self.validator, self.kind, name, content), orjson.dumps(data[name]))


def _json_data(value: dict[str, Any]) -> dict[str, Any]:
    """A validated plain dict in JSON types (see :meth:`Validator.validate_data`)."""
    try:
        data: dict[str, Any] = orjson.loads(orjson.dumps(value, option=orjson.OPT_UTC_Z))
    except orjson.JSONEncodeError:
        # An integer past 64 bits, which orjson does not write: pydantic's own conversion.
        data = to_jsonable_python(value)
    return data


def _field(value: Any, name: str) -> Any:
    """A field of a validated value, model or plain dict (None when absent from a dict)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


Located = tuple[tuple[str | int, ...], str, CodeRef]
#: The coded fields of a kind as a tree of field names; a leaf holds the field's list.
CodeTree = dict[str, "CodeTree | CodeRef"]


def _code_tree(code_lists: Mapping[tuple[str, ...], CodeRef]) -> CodeTree:
    tree: CodeTree = {}
    for shape, ref in code_lists.items():
        node = tree
        for name in shape[:-1]:
            child = node.setdefault(name, {})
            assert isinstance(child, dict)
            node = child
        node[shape[-1]] = ref
    return tree


def _set(document: Any, loc: tuple[str | int, ...], value: str) -> None:
    """Set the value at ``loc`` of a JSON document (every step of ``loc`` exists)."""
    *parents, last = loc
    for step in parents:
        document = document[step]
    document[last] = value


def _walk_codes(value: Any, tree: CodeTree) -> Iterator[Located]:
    """(location, code, list) of every coded value of a validated payload or a JSON document.

    Only the branches that lead to a coded field are visited; other keys are ignored. The
    values are collected by a plain recursion (nested generators would hand each one up
    through every level: views are walked at every write).
    """
    found: list[Located] = []

    def walk(node: Any, loc: tuple[str | int, ...], branch: CodeTree | CodeRef) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*loc, index), branch)
        elif isinstance(branch, CodeRef):
            if isinstance(node, str):
                found.append((loc, node, branch))
        elif isinstance(node, BaseModel):
            for name, sub in branch.items():
                child = getattr(node, name, None)
                if child is not None:
                    walk(child, (*loc, name), sub)
        elif isinstance(node, Mapping):
            for name, sub in branch.items():
                child = node.get(name)
                if child is not None:
                    walk(child, (*loc, name), sub)

    walk(value, (), tree)
    return iter(found)


@cache
def default_validator() -> Validator:
    """The validator of the packaged referential's current version."""
    return Validator(current_referential())
