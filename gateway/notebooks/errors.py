"""Problems of the notebook API."""

from __future__ import annotations

from gateway.errors import ProblemError


class InvalidPayload(ProblemError):
    status = 422
    code = "contenu_invalide"
    title = "Le contenu ne respecte pas le schéma ou le référentiel."


class AmbiguousIdentity(ProblemError):
    status = 409
    code = "identite_ambigue"
    title = "L'identité ne désigne pas un carnet de façon certaine."


class ConflictingIdentity(ProblemError):
    status = 409
    code = "identite_conflictuelle"
    title = "L'identité fournie contredit celle du carnet."


class NotebookNotFound(ProblemError):
    status = 404
    code = "carnet_introuvable"
    title = "Carnet introuvable."


class StaleVersion(ProblemError):
    status = 412
    code = "version_perimee"
    title = "Le carnet a changé depuis la version indiquée (If-Match)."


class TerritoryRequired(ProblemError):
    status = 422
    code = "territoire_requis"
    title = "Le territoire du carnet doit être indiqué."


class TerritoryForbidden(ProblemError):
    status = 403
    code = "territoire_interdit"
    title = "Ce territoire n'est pas un territoire de votre organisation."


class IdempotencyKeyReused(ProblemError):
    status = 422
    code = "cle_idempotence_reutilisee"
    title = "Cette clé d'idempotence a déjà servi pour une autre requête."
