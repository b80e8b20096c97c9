"""changements: without the index on carnet_id alone

The unique constraint on (carnet_id, version) is an index whose first column is carnet_id: it
serves every lookup by notebook, and the other index only cost each write (one more page).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 18:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_changements_carnet_id", table_name="changements")


def downgrade() -> None:
    op.create_index("ix_changements_carnet_id", "changements", ["carnet_id"], unique=False)
