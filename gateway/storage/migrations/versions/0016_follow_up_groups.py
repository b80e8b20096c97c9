"""follow-up groups and join requests: need to know from recorded relationships only

``liens`` recorded three natures of link: ``createur``, ``contributeur`` (any write) and
``groupe_suivi`` (a SIRET typed into the notebook's follow-up group by any writer). Writing
must never create a need to know: the follow-up group becomes data of its own
(``groupe_suivi``: organisation, role, basis, since, until), and the only links kept are the
creators', as members with the basis ``creation``. The other links are dropped; the migration
says how many, and how many notebooks lose an organisation.

Also: ``rattachements`` (join requests and their decisions), ``organisations.contact`` (the
professional contact channel shown to a partner that discovers a notebook), and
``identification_echecs`` (failed identifications counted per client).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:30:00.000000
"""

import logging
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
_ACTIVE = sa.text("jusqu_au IS NULL")
_PENDING = sa.text("statut = 'en_attente'")


def upgrade() -> None:
    op.create_table(
        "groupe_suivi",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("carnet_id", sa.String(36), sa.ForeignKey("carnets.id"), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("base", sa.String(40), nullable=False),
        sa.Column("depuis", sa.DateTime(timezone=True), nullable=False),
        sa.Column("jusqu_au", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
    )
    # One current membership per organisation and notebook; the need-to-know lookups go
    # by (organisation, notebook) and by notebook.
    op.create_index(
        "ux_groupe_suivi_actif",
        "groupe_suivi",
        ["carnet_id", "organisation_id"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_index("ix_groupe_suivi_organisation", "groupe_suivi", ["organisation_id"])
    op.create_table(
        "rattachements",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("carnet_id", sa.String(36), sa.ForeignKey("carnets.id"), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("motif", sa.String(500), nullable=False),
        sa.Column("statut", sa.String(20), nullable=False),
        sa.Column("automatique", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("demande_le", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decide_le", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decideur_organisation_id", sa.String(36), nullable=True),
        sa.Column("motif_decision", sa.String(500), nullable=True),
    )
    op.create_index("ix_rattachements_carnet", "rattachements", ["carnet_id", "demande_le"])
    op.create_index(
        "ux_rattachements_en_attente",
        "rattachements",
        ["carnet_id", "organisation_id"],
        unique=True,
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_table(
        "identification_echecs",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("fenetre", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nombre", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("contact", sa.String(255), nullable=True))

    connection = op.get_bind()
    links = sa.table(
        "liens",
        sa.column("carnet_id", sa.String),
        sa.column("organisation_id", sa.String),
        sa.column("nature", sa.String),
        sa.column("cree_le", sa.DateTime(timezone=True)),
    )
    members = sa.table(
        "groupe_suivi",
        sa.column("id", sa.String),
        sa.column("carnet_id", sa.String),
        sa.column("organisation_id", sa.String),
        sa.column("role", sa.String),
        sa.column("base", sa.String),
        sa.column("depuis", sa.DateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.select(links.c.carnet_id, links.c.organisation_id, links.c.nature, links.c.cree_le)
    ).all()
    kept = [
        {
            "id": str(uuid.uuid4()),
            "carnet_id": carnet_id,
            "organisation_id": organisation_id,
            "role": "membre",
            "base": "creation",
            "depuis": cree_le,
        }
        for carnet_id, organisation_id, nature, cree_le in rows
        if nature == "createur"
    ]
    if kept:
        connection.execute(sa.insert(members), kept)
    creators = {(row["carnet_id"], row["organisation_id"]) for row in kept}
    lost = {(c, o) for c, o, _, _ in rows} - creators
    log.warning(
        "0016 : %d lien(s) de créateur repris comme membres du groupe de suivi (base "
        "« creation ») ; %d lien(s) supprimé(s) (contributeur ou groupe saisi) : %d "
        "organisation(s)-carnet(s) perdent l'accès.",
        len(kept),
        len(rows) - len(kept),
        len(lost),
    )
    op.drop_index("ix_liens_organisation_id", table_name="liens")
    op.drop_table("liens")


def downgrade() -> None:
    op.create_table(
        "liens",
        sa.Column("carnet_id", sa.String(36), sa.ForeignKey("carnets.id"), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("nature", sa.String(20), nullable=False),
        sa.Column("cree_le", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("carnet_id", "organisation_id", "nature"),
    )
    op.create_index("ix_liens_organisation_id", "liens", ["organisation_id"])
    # Current members keep their access: creators as such, the others as group members.
    op.execute(
        "INSERT INTO liens (carnet_id, organisation_id, nature, cree_le)"
        " SELECT carnet_id, organisation_id,"
        " CASE WHEN base = 'creation' THEN 'createur' ELSE 'groupe_suivi' END, depuis"
        " FROM groupe_suivi WHERE jusqu_au IS NULL"
    )
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_column("contact")
    op.drop_table("identification_echecs")
    op.drop_index("ux_rattachements_en_attente", table_name="rattachements")
    op.drop_index("ix_rattachements_carnet", table_name="rattachements")
    op.drop_table("rattachements")
    op.drop_index("ix_groupe_suivi_organisation", table_name="groupe_suivi")
    op.drop_index("ux_groupe_suivi_actif", table_name="groupe_suivi")
    op.drop_table("groupe_suivi")
