"""Problems of the notebook API."""

from __future__ import annotations

from gateway.errors import ProblemError


class InvalidPayload(ProblemError):
    status = 422
    code = "contenu_invalide"
    title = "Le contenu ne respecte pas le schéma ou le référentiel."


class IdentificationFailed(ProblemError):
    """Every identification that cannot designate one notebook of the territory — several
    candidates, an identity contradicting the one found, a NIR or identifier held by another
    of its notebooks — gets this one answer: it tells nothing about which case it was."""

    status = 409
    code = "identification_impossible"
    title = (
        "Cette identité ne désigne pas de façon certaine un carnet de vos territoires : "
        "précisez l'identité ou contactez le département."
    )


class NirNotAllowed(ProblemError):
    status = 403
    code = "nir_non_autorise"
    title = "Votre type d'acteur ne peut pas transmettre ni rechercher de NIR."


class TooManyIdentificationFailures(ProblemError):
    status = 429
    code = "trop_d_echecs_identification"
    title = (
        "Trop d'identifications infructueuses : réessayez plus tard ; l'opérateur du "
        "territoire en est averti."
    )


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
