"""journal: the agent on whose behalf a partner system was asked

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 08:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.add_column(
            sa.Column("agent", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.drop_column("agent")
