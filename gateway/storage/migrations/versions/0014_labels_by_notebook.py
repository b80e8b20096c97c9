"""carnets_libelles: the labels of a notebook's view in a row of their own

The labels (several kilobytes) were a column of ``carnets``, whose row every write rewrites
whole: they now change only when a write changes them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carnets_libelles",
        sa.Column("carnet_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("libelles", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["carnet_id"], ["carnets.id"]),
        sa.PrimaryKeyConstraint("carnet_id"),
    )
    op.execute(
        "INSERT INTO carnets_libelles (carnet_id, libelles)"
        " SELECT id, libelles FROM carnets WHERE libelles IS NOT NULL"
    )
    op.drop_column("carnets", "libelles")


def downgrade() -> None:
    op.add_column("carnets", sa.Column("libelles", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE carnets SET libelles ="
        " (SELECT l.libelles FROM carnets_libelles l WHERE l.carnet_id = carnets.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE carnets SET libelles = '\\x7b7d'::bytea WHERE libelles IS NULL")
        op.execute("ALTER TABLE carnets ALTER COLUMN libelles SET NOT NULL")
    else:
        op.execute("UPDATE carnets SET libelles = CAST('{}' AS BLOB) WHERE libelles IS NULL")
    op.drop_table("carnets_libelles")
