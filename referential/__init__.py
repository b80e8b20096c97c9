"""The national referential of social and professional insertion, and the payload models.

Import from here: the rest of the package is private.
"""

from referential._batch import BatchReport, FindingGroup, LineSplitter, TooLong
from referential._diff import CodeChange, Replacement, VersionDiff, VersionOrderError
from referential._findings import Finding, Report, pointer
from referential._known import KnownSections
from referential._outgoing import OUTGOING_VERSION, OutgoingBody, Violation
from referential._referential import (
    CATEGORIES,
    CODE_PATTERN,
    SENSITIVE_CATEGORIES,
    CodeList,
    CrosswalkRow,
    CrosswalkTable,
    Entry,
    PublishedVersion,
    Referential,
    ReferentialDataError,
    Translation,
    current_referential,
    load_referential,
    normalise_label,
    version_key,
)
from referential._schema import dumps_stable, export_schemas, payload_schema, schema_id
from referential._types import (
    CodeDepartement,
    Horodatage,
    check_nir,
    nir_key,
    normalise_phone,
    siret_is_valid,
)
from referential._validation import Validator, default_validator
from referential.models import PAYLOAD_KINDS, Carnet, Payload

__all__ = [
    "CATEGORIES",
    "CODE_PATTERN",
    "OUTGOING_VERSION",
    "PAYLOAD_KINDS",
    "SENSITIVE_CATEGORIES",
    "BatchReport",
    "Carnet",
    "CodeChange",
    "CodeDepartement",
    "CodeList",
    "CrosswalkRow",
    "CrosswalkTable",
    "Entry",
    "Finding",
    "FindingGroup",
    "Horodatage",
    "KnownSections",
    "LineSplitter",
    "OutgoingBody",
    "Payload",
    "PublishedVersion",
    "Referential",
    "ReferentialDataError",
    "Replacement",
    "Report",
    "TooLong",
    "Translation",
    "Validator",
    "VersionDiff",
    "VersionOrderError",
    "Violation",
    "check_nir",
    "current_referential",
    "default_validator",
    "dumps_stable",
    "export_schemas",
    "load_referential",
    "nir_key",
    "normalise_label",
    "normalise_phone",
    "payload_schema",
    "pointer",
    "schema_id",
    "siret_is_valid",
    "version_key",
]
