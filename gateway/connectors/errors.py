"""The problems of the connector operations, as the gateway answers them."""

from __future__ import annotations

from connectors import ConnectorError, UpstreamTimeout, UpstreamUnavailable
from gateway.errors import NotFound, ProblemError


class ConnectorUnknown(NotFound):
    code = "connecteur_inconnu"
    title = "Connecteur inconnu ou non activé."


class ConnectorNotEnabled(ProblemError):
    status = 409
    code = "connecteur_non_active"
    title = "Ce connecteur n'est pas activé dans le territoire du carnet."


class CapabilityMissing(ProblemError):
    status = 409
    code = "capacite_absente"
    title = "Ce connecteur ne sait pas lire les données d'une personne (capacité pull)."


class ConnectorMisconfigured(ProblemError):
    status = 503
    code = "connecteur_mal_configure"
    title = "Le client sous lequel ce connecteur écrit est inconnu, désactivé ou d'un autre type d'acteur."


class UpstreamProblem(ProblemError):
    """An upstream failure as the gateway answers it: 502, 503 or 504, its stable code."""

    def __init__(self, error: ConnectorError) -> None:
        headers = None
        if error.retry_after is not None:
            headers = {"Retry-After": str(max(1, round(error.retry_after)))}
        super().__init__(error.message, headers=headers)
        self.code = error.code
        #: Whether trying again later may help, and after how long (seconds), if said.
        self.retryable = error.retryable
        self.retry_after = error.retry_after
        #: Whether no call can succeed until an operator acts (a batch stops).
        self.needs_operator = error.needs_operator
        self.title = "Le système partenaire n'a pas répondu comme attendu."
        if isinstance(error, UpstreamTimeout):
            self.status = 504
        elif isinstance(error, UpstreamUnavailable):
            self.status = 503
        else:
            self.status = 502


class ContributionRejected(ProblemError):
    status = 502
    code = "contribution_connecteur_invalide"
    title = "Ce que le connecteur a produit n'est pas valide contre le référentiel ; rien n'a été appliqué."


class ContributionRefused(ProblemError):
    """The notebook service refused the connector's write (its client's rights, an identity
    conflict…): the caller did nothing wrong, the connector's side must be looked at."""

    status = 502
    code = "contribution_connecteur_refusee"
    title = "La passerelle a refusé la contribution du connecteur ; rien n'a été appliqué."
