"""outgoing bodies: where a delivery's body departed from its published schema

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("livraisons", sa.Column("erreurs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("livraisons") as batch:
        batch.drop_column("erreurs")
