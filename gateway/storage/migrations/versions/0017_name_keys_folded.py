"""carnets: name keys recomputed with the typographic separators folded like the ASCII ones

The keys of the names (``nom_cle``, ``prenom_cle``: identity resolution by names and birth
date) were folded to ASCII before their separators were replaced, which deleted the
typographic apostrophe, the Unicode hyphens and spaces: « N’Diaye » was keyed « ndiaye »
while « N'Diaye » was keyed « n diaye ». Each notebook's keys are computed again from the names
held by the ``personne`` part of its state (``carnets_etats``, units ``/personne/nom`` and
``/personne/prenom``); a notebook whose state holds no name keeps its key.

The downgrade computes the keys again with the former folding, the one the code of the
previous revision computes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 10:00:00.000000
"""

import re
import unicodedata
from collections.abc import Callable, Sequence

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOTEBOOKS = sa.table(
    "carnets",
    sa.column("id", sa.String()),
    sa.column("nom_cle", sa.String()),
    sa.column("prenom_cle", sa.String()),
)
_PARTS = sa.table(
    "carnets_etats",
    sa.column("carnet_id", sa.String()),
    sa.column("volet", sa.String()),
    sa.column("etat", sa.LargeBinary()),
)
#: Key column → pointer of the unit holding the name it is computed from.
_NAMES = {"nom_cle": "/personne/nom", "prenom_cle": "/personne/prenom"}
#: Notebooks read (and their keys written) per round trip.
_BATCH = 1000

# A copy of gateway.notebooks.identity.name_key as of this revision (migrations import nothing
# from the application, whose folding may change again): ligatures spelt out, separators become
# spaces, then the text is folded to ASCII.
_SEPARATORS = re.compile(
    r"[\s"  # spaces
    r"'\u2018\u2019\u201b\u02bc\u02b9\u2032\u00b4`\uff07"  # ' ‘ ’ ‛ ʼ ʹ ′ ´ ` ＇
    r"\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"  # - ‐ ‑ ‒ – — ― − ﹘ ﹣ －
    r"]+"
)


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def _name_key(name: str) -> str:
    spaced = _SEPARATORS.sub(" ", unicodedata.normalize("NFKD", name.translate(_LIGATURES)))
    return " ".join(spaced.encode("ascii", "ignore").decode().lower().split())


# The folding of the previous revisions (for the downgrade): to ASCII first, then separators.
_FORMER_SEPARATORS = re.compile(r"[\s'’\-]+")


def _former_name_key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return _FORMER_SEPARATORS.sub(" ", text).strip()


def _rekey(fold: Callable[[str], str]) -> None:
    """Write the keys ``fold`` gives of each notebook's stored names, where they differ."""
    connection = op.get_bind()
    query = (
        sa.select(_PARTS.c.carnet_id, _PARTS.c.etat, _NOTEBOOKS.c.nom_cle, _NOTEBOOKS.c.prenom_cle)
        .join(_NOTEBOOKS, _NOTEBOOKS.c.id == _PARTS.c.carnet_id)
        .where(_PARTS.c.volet == "personne")
        .order_by(_PARTS.c.carnet_id)
        .limit(_BATCH)
    )
    update = (
        _NOTEBOOKS.update()
        .where(_NOTEBOOKS.c.id == sa.bindparam("carnet"))
        .values(nom_cle=sa.bindparam("nom"), prenom_cle=sa.bindparam("prenom"))
    )
    after = ""
    while rows := connection.execute(query.where(_PARTS.c.carnet_id > after)).all():
        changed = []
        for carnet_id, etat, nom_cle, prenom_cle in rows:
            units = orjson.loads(etat)["unites"]
            stored = {"nom_cle": nom_cle, "prenom_cle": prenom_cle}
            keys = {
                column: fold(units[pointer]["v"]) if pointer in units else stored[column]
                for column, pointer in _NAMES.items()
            }
            if keys != stored:
                changed.append(
                    {"carnet": carnet_id, "nom": keys["nom_cle"], "prenom": keys["prenom_cle"]}
                )
        if changed:
            connection.execute(update, changed)
        after = rows[-1][0]


def upgrade() -> None:
    _rekey(_name_key)


def downgrade() -> None:
    _rekey(_former_name_key)
