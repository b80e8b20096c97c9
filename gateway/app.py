"""The application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gateway import __version__
from gateway.errors import install_error_handlers
from gateway.referential.routes import router as referential_router
from gateway.responses import OrjsonResponse
from gateway.settings import Settings
from referential import Validator, default_validator

DESCRIPTION = """\
Passerelle d'échange de données de l'insertion sociale et professionnelle : les systèmes
d'information des partenaires déposent ce qu'ils savent d'une personne et lisent un carnet
consolidé, validé contre le référentiel national.

Toutes les erreurs suivent la RFC 9457 (`application/problem+json`) avec une liste `errors` de
`{pointer, code, message}`.
"""


def create_app(settings: Settings | None = None, *, validator: Validator | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="Carnet de bord — passerelle",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=OrjsonResponse,
    )
    app.state.settings = settings
    app.state.validator = validator or default_validator()
    app.state.schemas = {}
    install_error_handlers(app)
    app.include_router(referential_router)

    @app.get("/healthz", tags=["exploitation"], summary="État de la passerelle")
    def healthz() -> dict[str, str]:
        return {"statut": "ok", "version": __version__}

    return app
