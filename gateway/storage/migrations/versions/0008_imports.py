"""imports: file import jobs and the per-notebook state of file connectors

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("connecteur", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("organisation_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("statut", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("octets", sa.BigInteger(), nullable=False),
        sa.Column("foyers_traites", sa.Integer(), server_default="0", nullable=False),
        sa.Column("foyers_total", sa.Integer(), nullable=True),
        sa.Column("proprietaire", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("cree_le", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modifie_le", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rapport", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_imports_empreinte", "imports", ["connecteur", "sha256"])
    op.create_index("ix_imports_statut", "imports", ["statut"])
    op.create_table(
        "imports_suivi",
        sa.Column("connecteur", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("carnet_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("observation", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("empreinte", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("import_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.PrimaryKeyConstraint("connecteur", "carnet_id"),
    )


def downgrade() -> None:
    op.drop_table("imports_suivi")
    op.drop_index("ix_imports_statut", table_name="imports")
    op.drop_index("ix_imports_empreinte", table_name="imports")
    op.drop_table("imports")
