"""carnets: the rendered view kept as the UTF-8 bytes it is served as

Reads send the stored view as it is and writes store the bytes they render: as text, each read
decoded and encoded it again (tens of microseconds for a notebook of tens of kilobytes).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE carnets ALTER COLUMN vue TYPE bytea USING convert_to(vue, 'UTF8')")
    else:
        # SQLite keeps a BLOB as such in a column declared TEXT (its types are the values'):
        # the values change storage class, the declaration stays (rebuilding the table would
        # break the references of the tables pointing at it).
        op.execute("UPDATE carnets SET vue = CAST(vue AS BLOB)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE carnets ALTER COLUMN vue TYPE text USING convert_from(vue, 'UTF8')")
    else:
        op.execute("UPDATE carnets SET vue = CAST(vue AS TEXT)")
