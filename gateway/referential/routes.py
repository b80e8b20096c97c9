"""The public, read-only referential API: lists, codes, crosswalks and published schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from gateway.container import gateway_of
from gateway.errors import NotFound, ProblemError
from gateway.referential import wire
from gateway.responses import OrjsonResponse, SchemaResponse
from referential import (
    OUTGOING_VERSION,
    OutgoingBody,
    Referential,
    Validator,
    payload_schema,
    schema_id,
    version_key,
)

router = APIRouter(tags=["référentiel"])


def _referential(request: Request) -> Referential:
    validator: Validator = gateway_of(request).validator
    return validator.referential


def _crosswalk_link(partenaire: str, table: str) -> str:
    return f"/v1/referentiel/correspondances/{partenaire}/{table}"


@router.get("/v1/referentiel", response_model=wire.Referentiel, summary="Le référentiel")
def get_referentiel(request: Request) -> OrjsonResponse:
    ref = _referential(request)
    body = {
        "version": ref.current,
        "versions": [vars_of(v) for v in ref.versions.values()],
        "listes": [
            {
                "nom": liste.nom,
                "description": liste.description,
                "nombre": len(ref.entries(liste.nom)),
                "lien": f"/v1/referentiel/{liste.nom}",
            }
            for liste in ref.lists.values()
        ],
        "correspondances": [
            {
                "partenaire": x.partenaire,
                "table": x.table,
                "cible": x.cible,
                "versions_api": list(x.versions_api),
                "lien": _crosswalk_link(x.partenaire, x.table),
            }
            for x in ref.crosswalks
        ],
        "liens": {"schemas": "/v1/schemas", "codes": "/v1/referentiel/codes/{code}"},
    }
    return OrjsonResponse(body)


def vars_of(version: Any) -> dict[str, Any]:
    body = {
        "version": version.version,
        "publiee_le": version.publiee_le,
        "statut": version.statut,
        "notes": version.notes,
    }
    if version.fin_support:
        body["fin_support"] = version.fin_support
    return body


class UnknownVersion(ProblemError):
    status = 400
    code = "version_referentiel_inconnue"
    title = "Version du référentiel inconnue."


class VersionsOutOfOrder(ProblemError):
    status = 400
    code = "versions_dans_le_desordre"
    title = "La version « de » doit précéder (ou égaler) la version « a »."


@router.get(
    "/v1/referentiel/diff",
    response_model=wire.DiffReferentiel,
    summary="Ce qui change d'une version du référentiel à une autre",
    description=(
        "Codes ajoutés, renommés, fusionnés, scindés, dépréciés et retirés de la version `de` "
        "à la version `a` (postérieure ou égale). Chaque code déprécié ou retiré figure une "
        "fois, avec ce qui le remplace dans la version `a`."
    ),
)
def get_diff(
    request: Request,
    de: Annotated[str, Query(description="Version de départ (par exemple 2026.1).")],
    a: Annotated[str, Query(description="Version d'arrivée, postérieure ou égale.")],
) -> OrjsonResponse:
    ref = _referential(request)
    unknown = [
        {
            "parameter": name,
            "in": "query",
            "code": "version_referentiel_inconnue",
            "message": f"Version inconnue ; versions publiées : {', '.join(sorted(ref.versions))}.",
        }
        for name, value in (("de", de), ("a", a))
        if value not in ref.versions
    ]
    if unknown:
        raise UnknownVersion(errors=unknown)
    if version_key(de) > version_key(a):
        raise VersionsOutOfOrder()
    return OrjsonResponse(ref.diff(de, a).to_wire())


@router.get(
    "/v1/referentiel/codes/{code}",
    response_model=wire.EntreeReferentiel,
    summary="Un code de la nomenclature (thème, situation, objectif, action)",
    responses={404: {"description": "Code inconnu (avec une suggestion quand il y en a une)."}},
)
def get_code(request: Request, code: str) -> OrjsonResponse:
    ref = _referential(request)
    entry = ref.entry(code)
    if entry is None:
        suggestion = ref.suggest_nomenclature(code)
        suggestions = [suggestion.code] if suggestion else []
        raise NotFound(
            "Code inconnu dans la nomenclature.",
            suggestions=suggestions,
        )
    return OrjsonResponse(entry.to_wire(ref.current))


@router.get(
    "/v1/referentiel/correspondances/{partenaire}/{table}",
    response_model=list[wire.Correspondance],
    summary="Une table de correspondance vers les codes d'un partenaire (une par version d'API)",
)
def get_crosswalk(request: Request, partenaire: str, table: str) -> OrjsonResponse:
    ref = _referential(request)
    tables = [x for x in ref.crosswalks if x.partenaire == partenaire and x.table == table]
    if not tables:
        raise NotFound("Table de correspondance inconnue.")
    return OrjsonResponse(
        [
            {
                "partenaire": x.partenaire,
                "table": x.table,
                "cible": x.cible,
                "versions_api": list(x.versions_api),
                "description": x.description,
                "lignes": [_row(row) for row in x.lignes],
            }
            for x in tables
        ]
    )


def _row(row: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code_partenaire": row.code_partenaire,
        "libelle_partenaire": row.libelle_partenaire,
        "relation": row.relation,
    }
    if row.code is not None:
        body["code"] = row.code
    if row.contrainte is not None:
        body["contrainte"] = row.contrainte
    if row.versions_api:
        body["versions_api"] = list(row.versions_api)
    return body


@router.get(
    "/v1/referentiel/{liste}",
    response_model=wire.Liste,
    summary="Une liste du référentiel",
)
def get_liste(
    request: Request,
    liste: str,
    theme: Annotated[
        str | None, Query(description="Ne garder que les entrées de ce thème.")
    ] = None,
    inclure_deprecies: Annotated[
        bool, Query(description="Inclure les codes dépréciés (par défaut : oui).")
    ] = True,
    version: Annotated[
        str | None,
        Query(description="Version du référentiel (par défaut : la courante)."),
    ] = None,
) -> OrjsonResponse:
    ref = _referential(request)
    if liste not in ref.lists:
        raise NotFound("Liste inconnue.", listes=sorted(ref.lists))
    if version is not None and version not in ref.versions:
        raise UnknownVersion(
            errors=[
                {
                    "parameter": "version",
                    "in": "query",
                    "code": "version_referentiel_inconnue",
                    "message": f"Versions publiées : {', '.join(sorted(ref.versions))}.",
                }
            ]
        )
    version = version or ref.current
    entries = [
        e
        for e in ref.entries(liste, version)
        if (theme is None or e.theme == theme)
        and (inclure_deprecies or not e.deprecated_in(version))
    ]
    return OrjsonResponse(
        {
            "liste": liste,
            "description": ref.lists[liste].description,
            "version": version,
            "entrees": [e.to_wire(version) for e in entries],
        }
    )


class SchemaRetired(ProblemError):
    status = 410
    code = "schema_retire"
    title = "Cette version du référentiel n'est plus prise en charge : ses schémas sont retirés."


@router.get(
    "/v1/schemas",
    response_model=wire.IndexSchemas,
    summary="Les schémas publiés, de chaque version du référentiel",
)
def get_schemas(request: Request) -> OrjsonResponse:
    validator: Validator = gateway_of(request).validator
    ref = validator.referential
    versions = []
    for version in sorted(ref.versions.values(), key=lambda v: version_key(v.version)):
        served = version.statut != "retiree"
        schemas = []
        for kind in sorted(validator.kinds):
            schema: dict[str, str] = {"type": kind, "$id": schema_id(version.version, kind)}
            if served:
                schema["lien"] = f"/v1/schemas/{version.version}/{kind}"
            schemas.append(schema)
        body: dict[str, Any] = {
            "version": version.version,
            "statut": version.statut,
            "publiee_le": version.publiee_le,
        }
        if version.fin_support:
            body["fin_support"] = version.fin_support
        body["schemas"] = schemas
        versions.append(body)
    outgoing: dict[str, OutgoingBody] = gateway_of(request).outgoing
    sortants = {
        "version": OUTGOING_VERSION,
        "schemas": [
            {
                "type": kind,
                "$id": body.schema_id,
                "lien": f"/v1/schemas/{OUTGOING_VERSION}/{kind}",
            }
            for kind, body in sorted(outgoing.items())
        ],
    }
    return OrjsonResponse(
        {"version_courante": ref.current, "versions": versions, "sortants": sortants}
    )


@router.get(
    "/v1/schemas/{version}/{kind}",
    summary=(
        "Le JSON Schema (2020-12) d'un type de contenu, dans une version du référentiel "
        "(ou d'un corps sortant : version sortants-1)"
    ),
    response_class=SchemaResponse,
    responses={
        200: {"content": {"application/schema+json": {}}},
        410: {"description": "Version du référentiel retirée : ses schémas ne sont plus servis."},
    },
)
def get_schema(request: Request, version: str, kind: str) -> SchemaResponse:
    cache: dict[tuple[str, str], Any] = gateway_of(request).schemas
    if version == OUTGOING_VERSION:
        body: OutgoingBody | None = gateway_of(request).outgoing.get(kind)
        if body is None:
            raise NotFound("Schéma inconnu pour cette version et ce type.")
        if (version, kind) not in cache:
            cache[version, kind] = body.schema()
        return SchemaResponse(cache[version, kind])
    validator: Validator = gateway_of(request).validator
    published = validator.referential.versions.get(version)
    if published is None or kind not in validator.kinds:
        raise NotFound("Schéma inconnu pour cette version et ce type.")
    if published.statut == "retiree":
        raise SchemaRetired(
            f"Versions servies : {', '.join(validator.referential.schema_versions())}."
        )
    if (version, kind) not in cache:
        cache[version, kind] = payload_schema(validator.for_version(version), kind)
    return SchemaResponse(cache[version, kind])
