"""The CAF/MSA RSA flux (``vrsb0801``): a streamed, bounded XML reader and its mapping."""

from connectors.caf_msa.connector import CafMsaConnector
from connectors.caf_msa.parser import FluxInvalide

__all__ = ["CafMsaConnector", "FluxInvalide"]
