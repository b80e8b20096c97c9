"""The France Travail connector (recherche usager, diagnostic argumenté)."""

from connectors.france_travail.connector import FranceTravailConnector
from connectors.france_travail.settings import FranceTravailSettings

__all__ = ["FranceTravailConnector", "FranceTravailSettings"]
