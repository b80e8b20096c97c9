"""idempotency records without personal data

An idempotency record kept the whole first answer, and the answer to a notebook write may embed
the notebook as the caller could read it then (names, contact data, health codes). A record now
keeps the answer without the embedded notebook (member ``carnet``), with ``avec_carnet`` set and
the notebook's id in ``carnet_id``: a replay renders the notebook again under the caller's
current rights. The stored bodies are rewritten here.

The downgrade drops the two columns; the bodies stay stripped (the notebooks they embedded are
gone), so an older gateway replays those answers without the notebook.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Records read at once.
_BATCH = 500
_RECORDS = sa.table(
    "idempotence",
    sa.column("client_id", sa.String()),
    sa.column("cle", sa.String()),
    sa.column("corps", sa.LargeBinary()),
    sa.column("avec_carnet", sa.Boolean()),
    sa.column("carnet_id", sa.String()),
)
_UPDATE = (
    sa.update(_RECORDS)
    .where(
        _RECORDS.c.client_id == sa.bindparam("record_client"),
        _RECORDS.c.cle == sa.bindparam("record_key"),
    )
    .values(
        corps=sa.bindparam("corps"),
        avec_carnet=sa.bindparam("avec_carnet"),
        carnet_id=sa.bindparam("carnet_id"),
    )
)


def _stripped(body: bytes) -> dict[str, Any] | None:
    """The new values of a record whose answer embedded a notebook (None: it did not)."""
    if b'"carnet"' not in body:
        return None
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict) or "carnet" not in answer:
        return None
    del answer["carnet"]
    carnet_id = answer.get("id")
    return {
        "corps": orjson.dumps(answer),
        "avec_carnet": True,
        "carnet_id": carnet_id if isinstance(carnet_id, str) else None,
    }


def upgrade() -> None:
    with op.batch_alter_table("idempotence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("avec_carnet", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("carnet_id", sa.String(length=36), nullable=True))
    connection = op.get_bind()
    keys = (_RECORDS.c.client_id, _RECORDS.c.cle)
    after: tuple[str, str] | None = None
    while True:
        query = sa.select(*keys, _RECORDS.c.corps).order_by(*keys).limit(_BATCH)
        if after is not None:
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*after))
        rows = connection.execute(query).all()
        if not rows:
            return
        changes = []
        for client_id, key, body in rows:
            values = _stripped(bytes(body))
            if values is not None:
                changes.append({"record_client": client_id, "record_key": key, **values})
        if changes:
            connection.execute(_UPDATE, changes)
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    with op.batch_alter_table("idempotence", schema=None) as batch_op:
        batch_op.drop_column("carnet_id")
        batch_op.drop_column("avec_carnet")
