"""Wire models and helpers of the notebook API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from gateway.errors import ProblemError
from gateway.notebooks.errors import InvalidPayload
from gateway.pagination import page_of
from referential import check_nir


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RAW_BODY = Depends(_raw_body)


class Provenance(BaseModel):
    source: str = Field(description="organisation:<id> ou connecteur:<nom>.")
    type_acteur: str
    client: str | None = None
    observe_le: str
    recu_le: str


class Refus(BaseModel):
    pointer: str
    code: str
    message: str


class Resultat(BaseModel):
    appliques: list[str] = Field(description="Pointeurs (dans la requête) des données appliquées.")
    inchanges: list[str]
    ignores_obsoletes: list[str] = Field(
        description="Observations plus anciennes que celles du carnet : non appliquées."
    )
    refuses: list[Refus]


class Avertissement(BaseModel):
    pointer: str
    code: str
    message: str
    suggestion: str | None = None


class Masque(BaseModel):
    categorie: str
    raison: str = Field(
        description=(
            "Code de la raison : non_habilite (la matrice ne l'ouvre pas à votre type d'acteur), "
            "restriction_organisation (retirée à votre organisation), hors_finalite (la finalité "
            "indiquée ne la sert pas), reserve_referent (réservée à l'agent référent désigné ou "
            "aux agents habilités), auteur_ou_referent (texte libre : vous est servi celui que "
            "votre organisation a écrit ; tout, si elle est la structure référente)."
        )
    )
    base_legale: str


class CarnetVue(BaseModel):
    """The consolidated notebook as the caller may read it. Sections have the shape of the
    contribution's sections, each collection item carries its ``provenance``, and ``provenance``
    gives that of every other field by JSON Pointer. A diagnostic situation several sources
    assert is shown once, with the values of the latest observation and, in ``provenances``,
    the provenance of every source asserting it. ``libelles`` gives the label of every code,
    by list. ``masques`` lists the data categories the caller may not read (whether the notebook
    holds some or not); free text (``texte_libre``) another organisation wrote is absent from
    the parts it is served, unless it is the referent structure. The NIR is never returned."""

    model_config = ConfigDict(extra="allow")

    id: str
    version: int
    territoire: str
    version_referentiel: str
    cree_le: str
    modifie_le: str
    personne: dict[str, Any] | None = None
    provenance: dict[str, Provenance]
    libelles: dict[str, dict[str, str]]
    masques: list[Masque]


class EntreeJournal(BaseModel):
    """One access to a notebook: who, why, which categories, the outcome. No personal data."""

    seq: int
    horodatage: str
    client_id: str
    organisation_id: str
    type_acteur: str
    carnet_id: str | None
    action: str = Field(description="lecture, ecriture, creation, recherche, journal.")
    categories: list[str]
    finalite: str | None
    resultat: str = Field(description="servi, applique, inchange, hors_besoin.")
    agent: str | None = Field(
        default=None,
        description=(
            "Synchronisation : l'identifiant du professionnel au nom duquel le partenaire a été "
            "interrogé (BATCH pour un lot), jamais son nom."
        ),
    )


Journal = page_of(
    EntreeJournal,
    name="Journal",
    description="Les accès, du plus ancien au plus récent.",
    maximum=500,
)


class ResultatEcriture(BaseModel):
    id: str
    version: int
    cree: bool
    resultat: Resultat
    avertissements: list[Avertissement]
    carnet: CarnetVue | None = Field(
        default=None,
        description=(
            "Le carnet consolidé : dans la réponse d'une création, ou d'une contribution "
            "demandée avec « Prefer: return=representation »."
        ),
    )


class ResumeCarnet(BaseModel):
    """Un carnet trouvé. Hors du besoin d'en connaître, une recherche par identité le
    découvre seulement (``acces`` : ``decouverte``) : son identifiant et son territoire."""

    id: str
    version: int | None = None
    territoire: str
    modifie_le: str | None = None
    acces: Literal["complet", "decouverte"] = "complet"


class Recherche(BaseModel):
    """Identifying search criteria, sent in a body: they must not travel in URLs, which
    proxies and servers log."""

    model_config = ConfigDict(extra="forbid")

    nir: str | None = Field(
        default=None, description="NIR (13 ou 15 caractères) ; avec date_naissance."
    )
    date_naissance: date | None = None
    identifiant: str | None = Field(
        default=None,
        description=(
            "Identifiant partenaire « type:valeur » : caf_msa:caf:999:999000000001234, "
            "france_travail:XYZ, si_departement:26:SI-123."
        ),
    )


_MESSAGES = {
    "json_invalid": "JSON mal formé.",
    "extra_forbidden": "Champ inconnu.",
    "string_type": "Texte attendu.",
    "date_type": "Date attendue (AAAA-MM-JJ).",
    "date_parsing": "Date attendue (AAAA-MM-JJ).",
    "date_from_datetime_parsing": "Date attendue (AAAA-MM-JJ).",
    "model_type": "Objet JSON attendu.",
}


def search_criteria(body: bytes) -> Recherche:
    """The criteria of a search body (JSON, whatever its declared content type)."""
    try:
        return Recherche.model_validate_json(body or b"{}")
    except ValidationError as error:
        raise InvalidPayload(
            errors=[
                {
                    "pointer": "".join(f"/{part}" for part in e["loc"]),
                    "code": "json_invalide" if e["type"] == "json_invalid" else e["type"],
                    "message": _MESSAGES.get(e["type"], "Valeur invalide."),
                }
                for e in error.errors(include_input=False)
            ]
        ) from None


def search_nir(nir: str | None, date_naissance: date | None) -> str | None:
    """The 13-character NIR to search by; a NIR search needs the birth date too."""
    if nir is None:
        return None
    if date_naissance is None:
        raise ProblemError(
            errors=[
                {
                    "pointer": "/date_naissance",
                    "code": "date_naissance_requise",
                    "message": "Une recherche par NIR demande aussi la date de naissance.",
                }
            ]
        )
    try:
        return check_nir(nir)
    except PydanticCustomError as error:
        raise ProblemError(
            errors=[{"pointer": "/nir", "code": error.type, "message": error.message()}]
        ) from None


def wrap_section(section: str, body: bytes, observe_le: datetime | None) -> bytes:
    """A contribution holding one section, so that section writes share the contribution path."""
    try:
        content = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidPayload(
            errors=[{"pointer": "", "code": "json_invalide", "message": "JSON mal formé."}]
        ) from None
    wrapped: dict[str, Any] = {section: content}
    if observe_le is not None:
        wrapped["observe_le"] = observe_le.isoformat()
    return orjson.dumps(wrapped)


def unwrap_pointers(error: ProblemError, section: str) -> None:
    """Pointers of a wrapped section write, made relative to the section body."""
    prefix = "/" + section
    for item in error.errors or ():
        pointer = item.get("pointer")
        if isinstance(pointer, str) and (pointer == prefix or pointer.startswith(prefix + "/")):
            item["pointer"] = pointer[len(prefix) :]
