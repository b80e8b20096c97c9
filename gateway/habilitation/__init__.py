"""Who may see and record what: the habilitation matrix, data categories and need to know.

Every access decision of the gateway is taken here, from the data of
``gateway/data/habilitations.yaml`` (legal-frame.md §8).
"""

from gateway.habilitation.categories import classify, project
from gateway.habilitation.matrix import Matrix, load_matrix

__all__ = ["Matrix", "classify", "load_matrix", "project"]
