"""connectors: health and per-notebook pull state

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connecteurs_sante",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("appels", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reussites", sa.Integer(), server_default="0", nullable=False),
        sa.Column("echecs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("inchanges", sa.Integer(), server_default="0", nullable=False),
        sa.Column("codes_inconnus", sa.Integer(), server_default="0", nullable=False),
        sa.Column("champs_inconnus", sa.Integer(), server_default="0", nullable=False),
        sa.Column("derniere_reussite", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dernier_echec", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "dernier_code_erreur", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True
        ),
        sa.Column("circuit", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.PrimaryKeyConstraint("slug"),
    )
    op.create_table(
        "connecteurs_suivi",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("carnet_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("derniere_tentative", sa.DateTime(timezone=True), nullable=False),
        sa.Column("derniere_reussite", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dernier_resultat", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("empreinte", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("non_confirme_depuis", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("slug", "carnet_id"),
    )


def downgrade() -> None:
    op.drop_table("connecteurs_suivi")
    op.drop_table("connecteurs_sante")
