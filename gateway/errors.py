"""One error family, rendered by one handler as RFC 9457 problem+json.

Every problem carries a stable ``code``; located problems carry an ``errors`` list of
``{pointer, code, message}`` (``parameter`` instead of ``pointer`` for query and path parameters).
Messages are in French and never echo personal data.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.responses import ProblemResponse

PROBLEM_BASE = "urn:carnet-de-bord:probleme:"


class ProblemError(Exception):
    """Base of the project's errors: an HTTP status, a stable code, a French title."""

    status = 400
    code = "requete_invalide"
    title = "Requête invalide."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra
        #: Rows to store although the request fails (after its transaction is rolled back):
        #: what operators and the access journal must know of a refused request; or functions
        #: of a session that store it (see :func:`gateway.idempotency.store_records`).
        self.records: list[Any] = []


class InvalidParameters(ProblemError):
    """Path, query or header parameters that do not have their documented form (400)."""

    status = 400
    code = "parametres_invalides"
    title = "Paramètres de requête invalides."


class NotFound(ProblemError):
    status = 404
    code = "introuvable"
    title = "Ressource introuvable."


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status}
    body["code"] = code
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


_HTTP_CODES = {
    400: ("requete_invalide", "Requête invalide."),
    401: ("non_authentifie", "Authentification requise."),
    403: ("interdit", "Accès interdit."),
    404: ("introuvable", "Ressource introuvable."),
    405: ("methode_non_autorisee", "Méthode non autorisée sur cette ressource."),
    406: ("non_acceptable", "Format de réponse non disponible."),
    413: ("corps_trop_volumineux", "Corps de requête trop volumineux."),
    415: ("type_media_non_supporte", "Type de contenu non pris en charge."),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> ProblemResponse:
        return problem(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        code, title = _HTTP_CODES.get(exc.status_code, ("erreur_http", "Erreur."))
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, code, title, instance=request.url.path, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = []
        for error in exc.errors():
            where, *rest = error["loc"]
            name = ".".join(str(p) for p in rest)
            errors.append(
                {
                    "parameter": name,
                    "in": where,
                    "code": "parametre_invalide",
                    "message": f"Paramètre « {name} » invalide.",
                }
            )
        error = InvalidParameters(errors=errors)
        return problem(
            error.status, error.code, error.title, instance=request.url.path, errors=errors
        )
