"""carnets_etats: each section's part of a notebook's merge state in a row of its own

A write rewrote the whole state (tens of kilobytes) to change a few values; it now rewrites the
parts of the sections it changed. ``carnets.document`` keeps what the sections share
(provenances, the next provenance id, digests of resent sections).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 16:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOTEBOOKS = sa.table("carnets", sa.column("id", sa.String()), sa.column("document", sa.JSON()))
_PARTS = sa.table(
    "carnets_etats",
    sa.column("carnet_id", sa.String()),
    sa.column("volet", sa.String()),
    sa.column("etat", sa.LargeBinary()),
)
#: The members of a state held by its sections (the others are shared).
_BY_SECTION = ("unites", "collections")


def upgrade() -> None:
    op.create_table(
        "carnets_etats",
        sa.Column("carnet_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("volet", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("etat", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["carnet_id"], ["carnets.id"]),
        sa.PrimaryKeyConstraint("carnet_id", "volet"),
    )
    connection = op.get_bind()
    for carnet_id, state in connection.execute(sa.select(_NOTEBOOKS.c.id, _NOTEBOOKS.c.document)):
        parts: dict[str, dict[str, Any]] = {}
        for kind in _BY_SECTION:
            for pointer, held in (state.get(kind) or {}).items():
                if held:
                    part = parts.setdefault(pointer.split("/", 2)[1], {k: {} for k in _BY_SECTION})
                    part[kind][pointer] = held
        if parts:
            connection.execute(
                _PARTS.insert(),
                [
                    {"carnet_id": carnet_id, "volet": section, "etat": orjson.dumps(part)}
                    for section, part in sorted(parts.items())
                ],
            )
        shared = {key: value for key, value in state.items() if key not in _BY_SECTION}
        connection.execute(
            _NOTEBOOKS.update().where(_NOTEBOOKS.c.id == carnet_id).values(document=shared)
        )


def downgrade() -> None:
    connection = op.get_bind()
    states: dict[str, dict[str, Any]] = {}
    for carnet_id, state in connection.execute(sa.select(_NOTEBOOKS.c.id, _NOTEBOOKS.c.document)):
        states[carnet_id] = {**state, **{kind: {} for kind in _BY_SECTION}}
    parts = connection.execute(
        sa.select(_PARTS.c.carnet_id, _PARTS.c.etat).order_by(_PARTS.c.carnet_id, _PARTS.c.volet)
    )
    for carnet_id, etat in parts:
        part = orjson.loads(etat)
        for kind in _BY_SECTION:
            states[carnet_id][kind].update(part[kind])
    for carnet_id, state in states.items():
        connection.execute(
            _NOTEBOOKS.update().where(_NOTEBOOKS.c.id == carnet_id).values(document=state)
        )
    op.drop_table("carnets_etats")
