"""carnets.categories: free text (``texte_libre``) is a category of its own

Free text — events' and out-of-referential actions' labels, appointments' subjects, the
orientation's dispositif and reason, job titles — is served only to the organisation that wrote
it, to the notebook's referent structure and to the kinds the matrix grants it. A stored view's
categories decide whether a read may serve it as stored: each notebook whose view shows some
free text gets the category, so that it is projected from now on.

The downgrade removes the category.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 23:30:00.000000
"""

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FREE_TEXT = "texte_libre"
_NOTEBOOKS = sa.table(
    "carnets",
    sa.column("id", sa.String()),
    sa.column("categories", sa.JSON()),
)
_PARTS = sa.table(
    "carnets_etats",
    sa.column("carnet_id", sa.String()),
    sa.column("volet", sa.String()),
    sa.column("vue", sa.LargeBinary()),
)
#: Notebooks read (and their categories written) per round trip.
_BATCH = 500


def _items(value: Any) -> Iterator[Any]:
    yield from value if isinstance(value, list) else ()


# A copy of the free-text fields of gateway.habilitation.categories as of this revision
# (migrations import nothing from the application).
def _has_free_text(section: str, value: Any) -> bool:
    if section == "evenements":
        return any(item.get("libelle") is not None for item in _items(value))
    if section == "rendez_vous":
        return any(item.get("objet") is not None for item in _items(value))
    if section == "orientation":
        return isinstance(value, dict) and any(
            value.get(name) is not None for name in ("dispositif", "motif")
        )
    if section == "situation":
        projets = value.get("projets_professionnels") if isinstance(value, dict) else None
        return any(item.get("appellation") is not None for item in _items(projets))
    if section == "axes":
        return any(
            action.get("libelle") is not None
            for axe in _items(value)
            for objectif in _items(axe.get("objectifs"))
            for action in _items(objectif.get("actions"))
        )
    return False


def upgrade() -> None:
    connection = op.get_bind()
    notebooks = (
        sa.select(_NOTEBOOKS.c.id, _NOTEBOOKS.c.categories).order_by(_NOTEBOOKS.c.id).limit(_BATCH)
    )
    sections = sa.select(_PARTS.c.carnet_id, _PARTS.c.volet, _PARTS.c.vue).where(
        _PARTS.c.carnet_id.in_(sa.bindparam("ids", expanding=True)),
        _PARTS.c.volet.in_(("situation", "axes", "orientation", "rendez_vous", "evenements")),
        _PARTS.c.vue.is_not(None),
    )
    update = (
        _NOTEBOOKS.update()
        .where(_NOTEBOOKS.c.id == sa.bindparam("carnet"))
        .values(categories=sa.bindparam("held"))
    )
    after = ""
    while rows := connection.execute(notebooks.where(_NOTEBOOKS.c.id > after)).all():
        held = {carnet_id: list(categories or ()) for carnet_id, categories in rows}
        found = {
            carnet_id
            for carnet_id, volet, vue in connection.execute(sections, {"ids": list(held)})
            if _has_free_text(volet, orjson.loads(vue))
        }
        changed = [
            {"carnet": carnet_id, "held": sorted({*held[carnet_id], FREE_TEXT})}
            for carnet_id in sorted(found)
            if FREE_TEXT not in held[carnet_id]
        ]
        if changed:
            connection.execute(update, changed)
        after = rows[-1][0]


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_NOTEBOOKS.c.id, _NOTEBOOKS.c.categories)).all()
    changed = [
        {"carnet": carnet_id, "held": [c for c in categories if c != FREE_TEXT]}
        for carnet_id, categories in rows
        if FREE_TEXT in (categories or ())
    ]
    if changed:
        connection.execute(
            _NOTEBOOKS.update()
            .where(_NOTEBOOKS.c.id == sa.bindparam("carnet"))
            .values(categories=sa.bindparam("held")),
            changed,
        )
