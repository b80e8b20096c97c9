"""a NIR and a partner identifier designate one notebook per territory

A notebook is a département's (the RSA is): a person known by one département is unknown to
another, which creates its own notebook. Until now a NIR (``carnets.nir13``) and a partner
identifier (``identifiants``) were unique nationally, so that creating a notebook with a NIR
or an identifier held in another territory had to fail — and its failure told the caller that
the person was known elsewhere. They are unique per territory now:

- ``carnets.nir``, unique with ``territoire``, takes the NIR; ``carnets.nir13`` is emptied. On
  PostgreSQL it is dropped; on SQLite, where a column of a UNIQUE constraint cannot be dropped
  without rebuilding the table that the others reference, it stays, empty and unused.
- ``identifiants`` gets the notebook's ``territoire`` in its primary key.

The downgrade fails if a NIR or an identifier is held in two territories.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _identifiers(primary_key: list[str], territoire: bool) -> None:
    """``identifiants`` built again with ``primary_key`` (and the ``territoire`` column): no
    table references it, so it is copied, dropped and renamed, on SQLite as on PostgreSQL."""
    columns = [
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("valeur", sa.String(length=100), nullable=False),
    ]
    if territoire:
        columns.append(sa.Column("territoire", sa.String(length=3), nullable=False))
    op.create_table(
        "identifiants_0023",
        *columns,
        sa.Column("carnet_id", sa.String(length=36), sa.ForeignKey("carnets.id"), nullable=False),
        sa.PrimaryKeyConstraint(*primary_key, name=f"pk_identifiants_{len(primary_key)}"),
    )
    if territoire:
        op.execute(
            "INSERT INTO identifiants_0023 (type, valeur, territoire, carnet_id)"
            " SELECT i.type, i.valeur, c.territoire, i.carnet_id"
            " FROM identifiants i JOIN carnets c ON c.id = i.carnet_id"
        )
    else:
        op.execute(
            "INSERT INTO identifiants_0023 (type, valeur, carnet_id)"
            " SELECT type, valeur, carnet_id FROM identifiants"
        )
    op.drop_index("ix_identifiants_carnet_id", table_name="identifiants")
    op.drop_table("identifiants")
    op.rename_table("identifiants_0023", "identifiants")
    op.create_index("ix_identifiants_carnet_id", "identifiants", ["carnet_id"])


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("carnets", sa.Column("nir", sa.String(length=13), nullable=True))
    op.execute("UPDATE carnets SET nir = nir13, nir13 = NULL WHERE nir13 IS NOT NULL")
    if postgresql:
        op.drop_column("carnets", "nir13")
    op.create_index("ux_carnets_territoire_nir", "carnets", ["territoire", "nir"], unique=True)
    _identifiers(["type", "valeur", "territoire"], territoire=True)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _identifiers(["type", "valeur"], territoire=False)
    op.drop_index("ux_carnets_territoire_nir", table_name="carnets")
    if postgresql:
        op.add_column("carnets", sa.Column("nir13", sa.String(length=13), nullable=True))
        op.create_unique_constraint("carnets_nir13_key", "carnets", ["nir13"])
    op.execute("UPDATE carnets SET nir13 = nir WHERE nir IS NOT NULL")
    # SQLite drops a column in place (3.35): the table others reference is not rebuilt.
    op.drop_column("carnets", "nir")
