"""Constrained scalar types of the wire contract, with French error messages.

Each type validates in one place and publishes the same rule in the JSON Schema. Where JSON
Schema cannot express a rule (the NIR key, the SIRET checksum), the schema's description says so.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from referential._referential import Referential, current_referential

# -- codes -------------------------------------------------------------------------------------

#: The referential (and version) that code fields are bound to while models are being built.
building: ContextVar[tuple[Referential, str] | None] = ContextVar("building", default=None)


CODE_LIST_KEY = "x-liste-referentiel"


def code_def_name(liste: str) -> str:
    return f"code_{liste}"


@dataclass(frozen=True, slots=True)
class CodeRef:
    """Marks a string field whose value must be a code of the referential list ``liste``.

    With ``role``, only the entries of that role are accepted (the focus themes among themes).
    """

    liste: str
    role: str | None = None

    @property
    def def_name(self) -> str:
        return code_def_name(self.liste + (f"_{self.role}" if self.role else ""))

    def codes(self, referential: Referential, version: str | None) -> tuple[str, ...]:
        entries = referential.entries(self.liste, version)
        return tuple(
            e.code for e in entries if self.role is None or e.extra.get("role") == self.role
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        bound = building.get()
        referential, version = bound if bound else (current_referential(), None)
        return core_schema.literal_schema(list(self.codes(referential, version)))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # Replaced by a reference to the list's definition when the schemas are exported.
        return {"type": "string", CODE_LIST_KEY: [self.liste, self.role]}


@dataclass(frozen=True, slots=True)
class PublishedVersionRef:
    """Marks the field naming a referential version: the published schema lists the versions."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        bound = building.get()
        referential = bound[0] if bound else current_referential()
        json_schema = handler(schema)
        json_schema["enum"] = list(referential.supported_versions())
        return json_schema


CodeAxe = Annotated[str, CodeRef("themes", role="axe")]
CodeSituation = Annotated[str, CodeRef("situations")]
CodeObjectif = Annotated[str, CodeRef("objectifs")]
CodeAction = Annotated[str, CodeRef("actions")]
CodeEtatRsa = Annotated[str, CodeRef("etats_droit_rsa")]
CodeMotifSuspensionRsa = Annotated[str, CodeRef("motifs_suspension_rsa")]
CodeMotifClotureRsa = Annotated[str, CodeRef("motifs_cloture_rsa")]
CodeNiveauFormation = Annotated[str, CodeRef("niveaux_formation")]
CodeOrganismePrestations = Annotated[str, CodeRef("organismes_prestations")]
CodeRoleSuivi = Annotated[str, CodeRef("roles_suivi")]
CodeSituationProfessionnelle = Annotated[str, CodeRef("situations_professionnelles")]
CodeStatutAction = Annotated[str, CodeRef("statuts_action")]
CodeStatutObjectif = Annotated[str, CodeRef("statuts_objectif")]
CodeStatutRendezVous = Annotated[str, CodeRef("statuts_rendez_vous")]
CodeTypeContratEmploi = Annotated[str, CodeRef("types_contrat_emploi")]
CodeTypeContratParcours = Annotated[str, CodeRef("types_contrat_parcours")]
CodeTypeDureeEmploi = Annotated[str, CodeRef("types_duree_emploi")]
CodeTypeEvenement = Annotated[str, CodeRef("types_evenement")]
CodeTypeOrientation = Annotated[str, CodeRef("types_orientation")]


# -- strings -----------------------------------------------------------------------------------

#: One line of text: no control characters (they would also break PostgreSQL text columns).
ONE_LINE = r"^[^\x00-\x1F\x7F]*$"
#: Free text: line breaks and tabs allowed, no other control character.
FREE_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
Texte = Annotated[str, Field(min_length=1, max_length=255, pattern=ONE_LINE)]
TexteCourt = Annotated[str, Field(min_length=1, max_length=100, pattern=ONE_LINE)]
TexteLong = Annotated[str, Field(min_length=1, max_length=2000, pattern=FREE_TEXT)]
IdentifiantSource = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="Identifiant de l'élément dans le système de la source (stable d'un envoi à l'autre).",
    ),
]

# -- dates -------------------------------------------------------------------------------------

Date = Annotated[date, Strict(), Field(description="Date ISO 8601 (AAAA-MM-JJ).")]

RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)


@dataclass(frozen=True, slots=True)
class TextPattern:
    """The text must match ``pattern``, else the error ``code`` with ``message``.

    The pattern is checked by pydantic-core (in Rust, no Python call per value); the
    annotations written after this one (a checksum, a normalisation) only see matching text.
    With ``type_message``, the value must first be a string (else the error ``type_invalide``
    with that message), and the matching text is then validated as the annotated type (a lax
    datetime parses it).
    """

    pattern: str
    code: str
    message: str
    type_message: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        matching = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=self.pattern),
            custom_error_type=self.code,
            custom_error_message=self.message,
        )
        if self.type_message is None:
            return core_schema.chain_schema([handler(source), matching])
        text = core_schema.custom_error_schema(
            core_schema.str_schema(strict=True),
            custom_error_type="type_invalide",
            custom_error_message=self.type_message,
        )
        return core_schema.chain_schema([text, matching, handler(source)])


# The text is checked against RFC 3339 first, then parsed in lax mode: a strict datetime would
# refuse the string handed over by the check.
Horodatage = Annotated[
    AwareDatetime,
    Strict(False),
    TextPattern(
        RFC3339,
        "horodatage_invalide",
        "Horodatage invalide : format AAAA-MM-JJTHH:MM:SS avec fuseau (Z ou ±HH:MM).",
        type_message="Type invalide : la valeur doit être un horodatage RFC 3339 (chaîne).",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339,
            "description": "Horodatage RFC 3339 avec fuseau horaire.",
        }
    ),
]

# -- NIR ---------------------------------------------------------------------------------------

NIR_PATTERN = r"^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}(?:[0-9]{2})?$"
_NIR = re.compile(NIR_PATTERN)


def nir_key(nir13: str) -> int:
    """The control key of a 13-character NIR: 97 − (number mod 97), Corsica 2A/2B as 19/18."""
    digits = nir13[:5] + nir13[5:7].replace("2A", "19").replace("2B", "18") + nir13[7:]
    return 97 - int(digits) % 97


def check_nir(value: str) -> str:
    """The 13-character NIR of a valid 13- or 15-character NIR (PydanticCustomError otherwise)."""
    if not _NIR.fullmatch(value):
        if len(value) not in (13, 15):
            raise PydanticCustomError(
                "nir_longueur", "Le NIR doit compter 13 caractères, ou 15 avec la clé."
            )
        raise PydanticCustomError(
            "nir_format",
            "NIR mal formé : chiffres uniquement, sauf 2A ou 2B pour le département (Corse).",
        )
    if len(value) == 15 and nir_key(value[:13]) != int(value[13:]):
        raise PydanticCustomError("nir_cle_invalide", "La clé de contrôle du NIR est invalide.")
    return value[:13]


Nir = Annotated[
    str,
    Strict(),
    AfterValidator(check_nir),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": NIR_PATTERN,
            "description": (
                "NIR à 13 caractères, ou 15 avec la clé. La clé (97 − (nombre mod 97), 2A et 2B "
                "comptés 19 et 18) est vérifiée par la passerelle mais ne peut pas s'exprimer en "
                "JSON Schema. Seuls les 13 premiers caractères sont conservés."
            ),
        }
    ),
]

# -- birth date --------------------------------------------------------------------------------

#: The earliest birth date accepted.
BIRTH_DATE_MIN = date(1900, 1, 1)
#: The same bound as JSON Schema can say it: a year of four digits from 1900 on.
BIRTH_DATE_PATTERN = r"^(?:19|[2-9][0-9])[0-9]{2}-"
#: The furthest time zone ahead of UTC (Line Islands, UTC+14): a day that has begun nowhere on
#: Earth yet is in the future wherever the person was born.
_AHEAD_OF_UTC = timedelta(hours=14)


def check_birth_date(value: date) -> date:
    """A birth date from 1900-01-01 on and not in the future (PydanticCustomError otherwise)."""
    if value < BIRTH_DATE_MIN:
        raise PydanticCustomError(
            "date_naissance_trop_ancienne",
            "Date de naissance trop ancienne : le 1er janvier 1900 au plus tôt.",
        )
    if value > (datetime.now(UTC) + _AHEAD_OF_UTC).date():
        raise PydanticCustomError(
            "date_naissance_future", "La date de naissance est dans le futur."
        )
    return value


def birth_date_contradicts_nir(nir13: str, born: date) -> bool:
    """Whether ``born`` contradicts the NIR, whose characters 2–3 are the birth year (two
    digits) and 4–5 the birth month (01 to 12; 20 to 42, or 50 and more, when it is unknown)."""
    if born.year % 100 != int(nir13[1:3]):
        return True
    month = int(nir13[3:5])
    return 1 <= month <= 12 and month != born.month


DateNaissance = Annotated[
    date,
    Strict(),
    AfterValidator(check_birth_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": BIRTH_DATE_PATTERN,
            "description": (
                "Date de naissance ISO 8601 (AAAA-MM-JJ), le 1900-01-01 au plus tôt. La "
                "passerelle vérifie aussi qu'elle n'est pas dans le futur et, avec un NIR, "
                "qu'elle a l'année et le mois qu'il porte (sauf mois inconnu : 20 à 42, 50 et "
                "plus), ce que JSON Schema ne peut pas exprimer."
            ),
        }
    ),
]

# -- SIRET -------------------------------------------------------------------------------------

SIRET_PATTERN = r"^[0-9]{14}$"
_LA_POSTE_SIREN = "356000000"


#: The ASCII code of a digit → that of the digit doubled, its digits summed (Luhn).
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def siret_is_valid(siret: str) -> bool:
    """Luhn checksum of a SIRET (14 digits); La Poste's establishments use a sum of digits
    divisible by 5 instead."""
    digits = siret.encode()
    if siret.startswith(_LA_POSTE_SIREN) and siret != _LA_POSTE_SIREN + "00048":
        return (sum(digits) - 48 * len(digits)) % 5 == 0
    # The digits' sum is that of their ASCII codes less 48 each.
    total = sum(digits[-1::-2]) + sum(digits[-2::-2].translate(_DOUBLED)) - 48 * len(digits)
    return total % 10 == 0


def _check_siret(value: str) -> str:
    if not siret_is_valid(value):
        raise PydanticCustomError("siret_invalide", "Le SIRET est invalide (clé de Luhn).")
    return value


Siret = Annotated[
    str,
    Strict(),
    TextPattern(SIRET_PATTERN, "siret_format", "Le SIRET doit compter 14 chiffres."),
    AfterValidator(_check_siret),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SIRET_PATTERN,
            "description": (
                "SIRET à 14 chiffres. La clé de Luhn est vérifiée par la passerelle mais ne peut "
                "pas s'exprimer en JSON Schema."
            ),
        }
    ),
]

# -- postal code, département, ROME ------------------------------------------------------------

CodePostal = Annotated[
    str,
    Field(
        pattern=r"^(?:0[1-9]|[1-9][0-9])[0-9]{3}$",
        description="Code postal : 5 chiffres, ne commence pas par 00.",
    ),
]
CodeDepartement = Annotated[
    str,
    Field(
        pattern=r"^(?:0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$",
        description="Code de département (01 à 95, 2A, 2B, 971 à 976).",
    ),
]
CodeRome = Annotated[
    str,
    Field(pattern=r"^[A-N][0-9]{4}$", description="Code ROME (une lettre et quatre chiffres)."),
]

# -- e-mail ------------------------------------------------------------------------------------

#: The WHATWG HTML "valid e-mail address" production.
EMAIL_PATTERN = (
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
Courriel = Annotated[
    str,
    Field(
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="Adresse électronique (syntaxe HTML « valid e-mail address »).",
    ),
]

# -- phone -------------------------------------------------------------------------------------

#: National writing (0X XX XX XX XX, separators space . or -), or international writing with the
#: country code of metropolitan France or of an overseas territory.
PHONE_PATTERN = (
    r"^(?:0[1-9](?:[ .-]?[0-9]{2}){4}"
    r"|\+(?:33|262|590|594|596) ?[1-9](?:[ .-]?[0-9]{2}){4}"
    r"|\+(?:508|681|687) ?[0-9]{2}(?:[ .-]?[0-9]{2}){2}"
    r"|\+689 ?[0-9]{2}(?:[ .-]?[0-9]{2}){3})$"
)
_PHONE = re.compile(PHONE_PATTERN)

#: Overseas départements share the 10-digit national numbering; their prefix tells the
#: country code of the E.164 form (Réunion and Mayotte +262, Guadeloupe +590, Guyane +594,
#: Martinique +596).
_OVERSEAS_COUNTRY_CODES = {
    "262": "262", "263": "262", "692": "262", "693": "262",
    "269": "262", "639": "262",
    "590": "590", "690": "590", "691": "590",
    "594": "594", "694": "594",
    "596": "596", "696": "596", "697": "596",
}  # fmt: skip


def normalise_phone(value: str) -> str:
    """A French phone number (national or international writing) in E.164, or a ValueError.

    The accepted writings are exactly those of ``PHONE_PATTERN``; the national number of the
    10-digit plan loses its leading 0 behind the country code its prefix belongs to.
    """
    if not _PHONE.fullmatch(value):
        raise ValueError(value)
    return _e164(value)


def _e164(value: str) -> str:
    """The E.164 form of a writing that matches ``PHONE_PATTERN``."""
    digits = value.replace(" ", "").replace(".", "").replace("-", "")
    if digits.startswith("+"):
        return digits
    return "+" + _OVERSEAS_COUNTRY_CODES.get(digits[1:4], "33") + digits[1:]


Telephone = Annotated[
    str,
    Strict(),
    TextPattern(
        PHONE_PATTERN,
        "telephone_invalide",
        "Numéro de téléphone invalide : 10 chiffres commençant par 0, ou format "
        "international (+33…, +262…).",
    ),
    AfterValidator(_e164),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PHONE_PATTERN,
            "description": (
                "Numéro de téléphone français (métropole ou outre-mer), national "
                "(0X XX XX XX XX) ou international (+33…) ; rendu au format E.164."
            ),
        }
    ),
]

# -- numbers -----------------------------------------------------------------------------------

#: Integers stay within 32 bits: every store and every JSON library reads them back exactly.
ENTIER_MAX = 2**31 - 1
EntierPositif = Annotated[int, Field(gt=0, le=ENTIER_MAX)]
EntierNaturel = Annotated[int, Field(ge=0, le=ENTIER_MAX)]
