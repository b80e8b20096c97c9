"""feed: the change log in commit order, its retention horizon, webhook subscriptions and
their outbox of deliveries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The writing transaction's id, assigned by the server at insert time: readers take
        # only the rows of transactions older than every running one (gateway/feed).
        op.execute(
            "ALTER TABLE changements ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()"
        )
    else:
        # SQLite: one writer at a time, so the row id is already the commit order.
        op.add_column(
            "changements", sa.Column("xid", sa.BigInteger(), server_default="0", nullable=False)
        )
    # The data categories the change touched, one bit each (gateway/storage/feed.py).
    op.add_column(
        "changements", sa.Column("masque", sa.Integer(), server_default="0", nullable=False)
    )
    # The notebook's territory, so that a page reads the change log alone, in its order.
    op.add_column(
        "changements",
        sa.Column("territoire", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    )
    op.execute(
        "UPDATE changements SET territoire ="
        " (SELECT c.territoire FROM carnets c WHERE c.id = changements.carnet_id)"
    )
    op.create_index("ix_changements_flux", "changements", ["xid", "seq"])
    op.create_index("ix_changements_horodatage", "changements", ["horodatage"])
    op.create_table(
        "changements_horizon",
        sa.Column("nom", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("purge_le", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nom"),
    )
    op.create_table(
        "abonnements",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("organisation_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("territoires", sa.JSON(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("secret_precedent", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("precedent_expire_le", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actif", sa.Boolean(), nullable=False),
        sa.Column(
            "motif_desactivation", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True
        ),
        sa.Column("cree_le", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modifie_le", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_abonnements_organisation_id", "abonnements", ["organisation_id"])
    op.create_table(
        "livraisons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("abonnement_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("evenement_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("carnet_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("territoire", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("horodatage", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statut", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("tentatives", sa.Integer(), server_default="0", nullable=False),
        sa.Column("prochaine_tentative", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bail", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("dernier_statut_http", sa.Integer(), nullable=True),
        sa.Column("derniere_erreur", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("livre_le", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cree_le", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_livraisons_a_faire", "livraisons", ["statut", "prochaine_tentative"])
    op.create_index("ix_livraisons_abonnement", "livraisons", ["abonnement_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_livraisons_abonnement", table_name="livraisons")
    op.drop_index("ix_livraisons_a_faire", table_name="livraisons")
    op.drop_table("livraisons")
    op.drop_index("ix_abonnements_organisation_id", table_name="abonnements")
    op.drop_table("abonnements")
    op.drop_table("changements_horizon")
    op.drop_index("ix_changements_horodatage", table_name="changements")
    op.drop_index("ix_changements_flux", table_name="changements")
    with op.batch_alter_table("changements") as batch:
        batch.drop_column("territoire")
        batch.drop_column("masque")
        batch.drop_column("xid")
