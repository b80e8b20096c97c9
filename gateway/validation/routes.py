"""The validate-only API: one payload (JSON) or a batch (NDJSON), checked by the write path's
engine. Nothing is stored, merged or journaled; bodies are never logged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gateway.auth.principal import Principal
from gateway.container import gateway_of
from gateway.deps import Unauthenticated, get_principal
from gateway.errors import NotFound, ProblemError
from gateway.responses import OrjsonResponse
from gateway.settings import Settings
from gateway.validation import wire
from gateway.validation.limiter import TokenBuckets
from referential import BatchReport, LineSplitter, TooLong, Validator

router = APIRouter(tags=["validation"])

NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
PREFIX = "/v1/validation/"


class AnonymousValidationOff(Unauthenticated):
    title = "Jeton d'accès requis : la validation anonyme n'est pas ouverte sur cette passerelle."


class TooManyRequests(ProblemError):
    status = 429
    code = "trop_de_requetes"
    title = "Trop de validations anonymes depuis cette adresse ; réessayez plus tard."


class BodyTooLarge(ProblemError):
    status = 413
    code = "corps_trop_volumineux"
    title = "Corps de requête trop volumineux."


class BatchTooLong(ProblemError):
    status = 413
    code = "lot_trop_long"
    title = "Lot trop long."


class EmptyBatch(ProblemError):
    status = 400
    code = "lot_vide"
    title = "Le lot ne contient aucun contenu (une ligne JSON par contenu)."


async def get_caller(request: Request) -> Principal | None:
    """The caller of a validation: a client with a valid token, or an anonymous caller when the
    configuration opens anonymous validation (counted per address)."""
    if "authorization" in request.headers:
        return await get_principal(request)
    buckets = gateway_of(request).anonymous_validation
    if buckets is None:  # CARNET_VALIDATION_ANONYME_PAR_MINUTE=0
        raise AnonymousValidationOff(headers={"WWW-Authenticate": 'Bearer realm="carnet"'})
    wait = buckets.take(request.client.host if request.client else "")
    if wait:
        raise TooManyRequests(headers={"Retry-After": TokenBuckets.retry_after(wait)})
    return None


CallerDep = Annotated[Principal | None, Depends(get_caller)]

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "Un contenu du type indiqué (son schéma : GET /v1/schemas).",
            }
        },
        "application/x-ndjson": {
            "schema": {
                "type": "string",
                "description": (
                    "Un lot : un contenu JSON par ligne (lignes vides sautées), lu au fil de "
                    "l'envoi ; chaque ligne fait au plus la taille maximale d'un corps."
                ),
            }
        },
    },
}


@router.post(
    PREFIX + "{kind}",
    summary="Valider un contenu ou un lot NDJSON, sans rien enregistrer",
    description=(
        "Vérifie un contenu (`application/json`, ou tout autre type déclaré) ou un lot "
        "(`application/x-ndjson`, un contenu par ligne, lu au fil de l'envoi) avec le moteur qui "
        "valide les écritures : chaque "
        "erreur et avertissement avec son pointeur JSON (et sa ligne dans un lot), un code "
        "stable, un message en français, la valeur attendue et, pour un code, une suggestion. "
        "Dans un lot, un même constat est groupé sur les plages de lignes où il se répète. "
        "Un contenu peut déclarer sa `version_referentiel`. Rien n'est enregistré, fusionné "
        "ni journalisé. Ouvert à tout client authentifié (éditeurs de logiciel compris) ; sans "
        "jeton, selon la configuration (désactivé par défaut, sinon limité par adresse)."
    ),
    response_model=wire.RapportValidation | wire.RapportLot,
    responses={
        401: {"description": "Jeton invalide, ou validation anonyme fermée."},
        404: {"description": "Type de contenu inconnu."},
        413: {"description": "Corps ou ligne trop volumineux, ou lot trop long."},
        429: {"description": "Trop de validations anonymes depuis cette adresse."},
    },
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def validate(request: Request, kind: str, caller: CallerDep) -> OrjsonResponse:
    validator: Validator = gateway_of(request).validator
    settings: Settings = gateway_of(request).settings
    if kind not in validator.kinds:
        raise NotFound("Type de contenu inconnu.", types=sorted(validator.kinds))
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        max_lines = (
            settings.validation_max_lines
            if caller is not None
            else settings.validation_anonymous_max_lines
        )
        batch = await _batch(request, validator, kind, settings.max_body_bytes, max_lines)
        return OrjsonResponse(batch.to_wire())
    # Any other declared type: the body is read as one JSON payload (as the other routes do).
    body = await _body(request, settings.max_body_bytes)
    return OrjsonResponse(validator.check(kind, body).to_wire())


async def _body(request: Request, limit: int) -> bytes:
    """The body of a single payload, refused past ``limit`` bytes before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge(f"Taille maximale : {limit} octets.")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"Taille maximale : {limit} octets.")
        parts.append(chunk)
    return b"".join(parts)


async def _batch(
    request: Request, validator: Validator, kind: str, max_line_bytes: int, max_lines: int
) -> BatchReport:
    """Every line validated as it arrives: only the line being read and the grouped findings
    are held, whatever the size of the batch."""
    splitter = LineSplitter(max_line_bytes)
    batch = BatchReport(kind=kind, version=validator.version)

    def tally(ligne: int, line: bytes | TooLong) -> None:
        if batch.lines >= max_lines:
            raise BatchTooLong(f"Un lot compte au plus {max_lines} contenus.")
        batch.add_line(validator, ligne, line)

    async for chunk in request.stream():
        for ligne, line in splitter.feed(chunk):
            tally(ligne, line)
    for ligne, line in splitter.finish():
        tally(ligne, line)
    if batch.lines == 0:
        raise EmptyBatch()
    return batch
