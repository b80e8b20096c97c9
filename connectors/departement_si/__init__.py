"""The département IS connector: pushes change events to a département's REST endpoint."""

from connectors.departement_si.connector import DepartementSiConnector, payload
from connectors.departement_si.settings import DepartementSiSettings

__all__ = ["DepartementSiConnector", "DepartementSiSettings", "payload"]
