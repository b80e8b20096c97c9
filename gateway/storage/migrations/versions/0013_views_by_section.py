"""carnets_etats: each section's part of the view beside its part of the state

A write rewrote the whole rendered view (tens of kilobytes) to change a few values; it now
rewrites the sections it changed. Each row of ``carnets_etats`` gains the section's value in the
view (``vue``, NULL when the view does not show it) and the provenance of its units
(``provenance``: members of the view's ``provenance`` object); ``carnets.vue`` becomes
``carnets.tete``, the view's head members (id, version, …), and ``carnets.libelles`` holds its
labels. The stored views were written by orjson: each member, loaded and dumped again by orjson,
is the bytes it was in the view, so the view assembled from the pieces is the view as stored.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 17:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The sections of a view, in its order (as of this revision).
_SECTIONS = (
    "personne",
    "coordonnees",
    "droits",
    "situation",
    "diagnostic",
    "axes",
    "contrat",
    "accompagnement",
    "orientation",
    "rendez_vous",
    "evenements",
)
_NOTEBOOKS = sa.table(
    "carnets",
    sa.column("id", sa.String()),
    sa.column("tete", sa.LargeBinary()),
    sa.column("libelles", sa.LargeBinary()),
)
_PARTS = sa.table(
    "carnets_etats",
    sa.column("carnet_id", sa.String()),
    sa.column("volet", sa.String()),
    sa.column("etat", sa.LargeBinary()),
    sa.column("vue", sa.LargeBinary()),
    sa.column("provenance", sa.LargeBinary()),
)
_EMPTY_PART = orjson.dumps({"unites": {}, "collections": {}})


def _members(value: dict[str, Any]) -> bytes:
    """An object's members, without the braces."""
    return orjson.dumps(value)[1:-1]


def upgrade() -> None:
    op.execute("ALTER TABLE carnets RENAME COLUMN vue TO tete")
    op.add_column("carnets", sa.Column("libelles", sa.LargeBinary(), nullable=True))
    op.add_column("carnets_etats", sa.Column("vue", sa.LargeBinary(), nullable=True))
    op.add_column("carnets_etats", sa.Column("provenance", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    parts = {
        (carnet_id, volet)
        for carnet_id, volet in connection.execute(sa.select(_PARTS.c.carnet_id, _PARTS.c.volet))
    }
    views = connection.execute(sa.select(_NOTEBOOKS.c.id, _NOTEBOOKS.c.tete)).all()
    for carnet_id, stored in views:
        view = orjson.loads(stored)
        head = {
            key: value
            for key, value in view.items()
            if key not in _SECTIONS and key not in ("provenance", "libelles")
        }
        provenance: dict[str, dict[str, Any]] = {}
        for pointer, held in (view.get("provenance") or {}).items():
            provenance.setdefault(pointer.split("/")[1], {})[pointer] = held
        for section in _SECTIONS:
            if section not in view:
                continue
            pieces = {
                "vue": orjson.dumps(view[section]),
                "provenance": _members(provenance.get(section, {})),
            }
            if (carnet_id, section) in parts:
                connection.execute(
                    _PARTS.update()
                    .where(_PARTS.c.carnet_id == carnet_id, _PARTS.c.volet == section)
                    .values(**pieces)
                )
            else:
                # A section shown without a part of the state: none is written by the merge;
                # an empty part keeps the piece of the view.
                connection.execute(
                    _PARTS.insert().values(
                        carnet_id=carnet_id, volet=section, etat=_EMPTY_PART, **pieces
                    )
                )
        connection.execute(
            _NOTEBOOKS.update()
            .where(_NOTEBOOKS.c.id == carnet_id)
            .values(tete=_members(head), libelles=orjson.dumps(view.get("libelles") or {}))
        )
    if connection.dialect.name == "postgresql":
        # SQLite cannot change a column's constraint without rebuilding the table (and the
        # references of the tables pointing at it): the column stays nullable there.
        op.execute("ALTER TABLE carnets ALTER COLUMN libelles SET NOT NULL")


def downgrade() -> None:
    connection = op.get_bind()
    pieces: dict[str, list[tuple[str, bytes, bytes]]] = {}
    rows = connection.execute(
        sa.select(_PARTS.c.carnet_id, _PARTS.c.volet, _PARTS.c.vue, _PARTS.c.provenance).where(
            _PARTS.c.vue.is_not(None)
        )
    )
    for carnet_id, volet, vue, provenance in rows:
        pieces.setdefault(carnet_id, []).append((volet, bytes(vue), bytes(provenance or b"")))
    notebooks = connection.execute(
        sa.select(_NOTEBOOKS.c.id, _NOTEBOOKS.c.tete, _NOTEBOOKS.c.libelles)
    ).all()
    for carnet_id, tete, libelles in notebooks:
        sections = sorted(pieces.get(carnet_id, ()), key=lambda piece: _SECTIONS.index(piece[0]))
        members = [bytes(tete)]
        members += [b'"%s":%s' % (volet.encode(), vue) for volet, vue, _ in sections]
        provenance = b",".join(held for _, _, held in sections if held)
        members.append(b'"provenance":{%s}' % provenance)
        members.append(b'"libelles":' + bytes(libelles))
        view = b"{" + b",".join(members) + b"}"
        connection.execute(
            _NOTEBOOKS.update().where(_NOTEBOOKS.c.id == carnet_id).values(tete=view)
        )
    op.drop_column("carnets_etats", "provenance")
    op.drop_column("carnets_etats", "vue")
    op.drop_column("carnets", "libelles")
    op.execute("ALTER TABLE carnets RENAME COLUMN tete TO vue")
