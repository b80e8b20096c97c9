"""Storage: engines, transactions, tables, migrations and the fast paths of the driver.

:data:`Session` is the unit of work the services and adapters are handed (a transaction of
:meth:`gateway.storage.database.Database.write` or ``read``): they name its type from here,
never from SQLModel or SQLAlchemy. :class:`Conflict` is what a write raises when a unique
key is already held (a replayed assertion, an idempotency key taken concurrently).
"""

from sqlalchemy.exc import IntegrityError as Conflict
from sqlmodel import Session

__all__ = ["Conflict", "Session"]
