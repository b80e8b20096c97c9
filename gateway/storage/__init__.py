"""Storage: engines, transactions, tables, migrations and the fast paths of the driver.

:data:`Session` is the unit of work the services and adapters are handed (a transaction of
:meth:`gateway.storage.database.Database.write` or ``read``): they name its type from here,
never from SQLModel or SQLAlchemy.
"""

from sqlmodel import Session

__all__ = ["Session"]
