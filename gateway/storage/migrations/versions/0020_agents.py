"""agents: the persons at the keyboard, and the referent agent of a follow-up group

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("nom", sa.String(200), nullable=False),
        sa.Column("courriel", sa.String(255), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("sub", sa.String(255), nullable=True),
        sa.Column("habilitations", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("actif", sa.Boolean(), nullable=False),
        sa.Column("cree_le", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agents_organisation_id", "agents", ["organisation_id"])
    op.create_index("ix_agents_sub", "agents", ["sub"])
    with op.batch_alter_table("groupe_suivi") as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groupe_suivi") as batch_op:
        batch_op.drop_column("agent_id")
    op.drop_index("ix_agents_sub", table_name="agents")
    op.drop_index("ix_agents_organisation_id", table_name="agents")
    op.drop_table("agents")
