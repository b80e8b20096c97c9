"""Every query of the change feed.

Order without gaps. A reader that has seen a change must never later find, before it, a change
committed afterwards — or it would skip it. On SQLite, one writer commits at a time and the row
id (``seq``) is assigned inside its transaction, so ``seq`` is the commit order. On PostgreSQL,
``seq`` comes from a sequence drawn at insert time: a transaction that drew 7 may commit after
the one that drew 8. Each row therefore carries the id of the transaction that wrote it (``xid``,
an ``xid8`` set by the server: ``pg_current_xact_id()``), and a reader only takes the rows of
transactions older than the oldest one still running that may write here (see
:data:`_BOUND_POSTGRESQL`; ``pg_snapshot_xmin`` alone would also wait for the write
transactions of the cluster's other databases): every transaction below it has ended,
committed or not, and no later transaction can get an id below it. The feed is ordered by ``(xid, seq)`` and a cursor is such a pair. The write path pays
nothing for this (no lock, no extra statement); a long transaction delays the feed, it never
makes it skip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlmodel import Session

from gateway.habilitation.categories import category_mask
from gateway.habilitation.matrix import SANDBOX
from gateway.storage.tables import FeedHorizon

_CURSOR = re.compile(r"^([0-9]{1,19})\.([0-9]{1,19})$")
#: The first position of the feed.
START = (0, 0)
_HORIZON = "changements"


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which changes a caller may see: need to know (territories, links) and categories."""

    territoires: tuple[str, ...]
    #: ``territoire``: every notebook of its territories; ``relation``: those its organisation
    #: is linked to; ``bac_a_sable``: the sandbox's.
    portee: str
    organisation_id: str
    categories: frozenset[str]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    position: tuple[int, int]
    carnet_id: str
    version: int
    sections: list[str]
    horodatage: datetime


def format_cursor(position: tuple[int, int]) -> str:
    return f"{position[0]}.{position[1]}"


def parse_cursor(cursor: str) -> tuple[int, int] | None:
    found = _CURSOR.match(cursor)
    if found is None:
        return None
    position = (int(found[1]), int(found[2]))
    return position if max(position) < 2**63 else None


def _xid(dialect: str, name: str) -> str:
    """A bound transaction id as the column compares to it."""
    return f"CAST(:{name} AS xid8)" if dialect == "postgresql" else f":{name}"


#: The oldest transaction of one snapshot still running, leaving out those known to run in
#: another database of the cluster (they never write this table); when none, the first one
#: not started yet (the snapshot's xmax). The snapshot's in-progress ids are matched to the
#: sessions of the other databases by their 32-bit id (pg_stat_activity has no epoch). Only a
#: positive match leaves a transaction out: one whose session is not visible to this role, or
#: that ended before the sessions were read, holds the feed back a little, never makes it
#: skip (one that ended has committed or aborted before the page query's own snapshot, which
#: sees it; one that starts after the snapshot gets an id at or above its xmax).
_BOUND_POSTGRESQL = text(
    "SELECT coalesce("
    " (SELECT min(x) FROM pg_snapshot_xip(s.snap) AS x"
    "  WHERE (x::text::bigint % 4294967296) NOT IN"
    "  (SELECT a.backend_xid::text::bigint FROM pg_stat_activity a"
    "   WHERE a.datname IS DISTINCT FROM current_database() AND a.backend_xid IS NOT NULL)),"
    " pg_snapshot_xmax(s.snap))::text"
    " FROM (SELECT pg_current_snapshot() AS snap) s"
)


def _bound(session: Session, dialect: str) -> Any:
    """What a reader may take now: PostgreSQL, the rows of the transactions below the oldest
    one still running that may write here; SQLite, the rows committed when the read began."""
    if dialect == "postgresql":
        return session.execute(_BOUND_POSTGRESQL).scalar_one()
    return session.execute(text("SELECT coalesce(max(seq), 0) FROM changements")).scalar_one()


def _after_clause(dialect: str) -> str:
    """After the cursor. On SQLite ``xid`` is always 0: the row id alone keeps the index
    range tight (SQLite's planner uses only the first column of a row-value range)."""
    if dialect == "postgresql":
        return f"(ch.xid, ch.seq) > ({_xid(dialect, 'xid')}, :seq)"
    return "ch.seq > :seq"


def _order(dialect: str, *, descending: bool = False) -> str:
    way = " DESC" if descending else ""
    return f"ch.xid{way}, ch.seq{way}" if dialect == "postgresql" else f"ch.seq{way}"


def _visible_clause(dialect: str) -> str:
    return f"ch.xid < {_xid(dialect, 'borne')}" if dialect == "postgresql" else "ch.seq <= :borne"


def page(
    session: Session, visibility: Visibility, after: tuple[int, int], limit: int
) -> tuple[list[FeedEntry], tuple[int, int], bool]:
    """The changes ``visibility`` shows after ``after``, at most ``limit``; the position to read
    from next; and whether the page reached the end of what is committed now.

    The position moves past the changes the caller may not see too, so that a quiet reader does
    not rescan them.
    """
    dialect = session.get_bind().dialect.name
    bound = _bound(session, dialect)
    where = [
        _after_clause(dialect),
        _visible_clause(dialect),
        "ch.territoire IN :territoires",
        # A change that touched only categories the caller may not read is not shown; rows
        # logged before categories were recorded (0) are.
        "((ch.masque & :masque) != 0 OR ch.masque = 0)",
    ]
    territoires: Sequence[str] = visibility.territoires
    if visibility.portee == "bac_a_sable":
        territoires = [SANDBOX] if SANDBOX in territoires else []
    elif visibility.portee == "relation":
        where.append(
            "EXISTS (SELECT 1 FROM groupe_suivi g WHERE g.carnet_id = ch.carnet_id"
            " AND g.organisation_id = :organisation AND g.jusqu_au IS NULL)"
        )
    elif visibility.portee != "territoire":
        territoires = []
    xid_text = "ch.xid::text" if dialect == "postgresql" else "ch.xid"
    statement = text(
        f"SELECT {xid_text}, ch.seq, ch.carnet_id, ch.version, ch.sections, ch.horodatage"
        # The change log alone, read in its (xid, seq) order: a page costs the same whatever
        # the history (a join let the planners scan the notebooks first and sort).
        " FROM changements ch"
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY {_order(dialect)} LIMIT :limite"
    ).bindparams(bindparam("territoires", expanding=True))
    parameters = {
        "xid": str(after[0]) if dialect == "postgresql" else after[0],
        "seq": after[1],
        "borne": bound,
        "territoires": list(territoires) or [""],
        "masque": category_mask(visibility.categories),
        "organisation": visibility.organisation_id,
        "limite": limit + 1,
    }
    rows = session.execute(statement, parameters).all()
    entries = [_entry(row) for row in rows[:limit]]
    if len(rows) > limit:
        return entries, entries[-1].position, False
    return entries, max(after, _last(session, dialect, bound)), True


def _last(session: Session, dialect: str, bound: Any) -> tuple[int, int]:
    """The last position a reader may take now, whoever may see it."""
    xid_text = "ch.xid::text" if dialect == "postgresql" else "ch.xid"
    found = session.execute(
        text(
            f"SELECT {xid_text}, ch.seq FROM changements ch WHERE {_visible_clause(dialect)}"
            f" ORDER BY {_order(dialect, descending=True)} LIMIT 1"
        ),
        {"borne": bound},
    ).one_or_none()
    return START if found is None else (int(found[0]), int(found[1]))


def _entry(row: Any) -> FeedEntry:
    sections = orjson.loads(row[4]) if isinstance(row[4], str | bytes) else row[4]
    horodatage = row[5]
    if isinstance(horodatage, str):
        horodatage = datetime.fromisoformat(horodatage)
    if horodatage.tzinfo is None:
        horodatage = horodatage.replace(tzinfo=UTC)
    return FeedEntry(
        position=(int(row[0]), int(row[1])),
        carnet_id=row[2],
        version=row[3],
        sections=list(sections),
        horodatage=horodatage,
    )


# -- retention ----------------------------------------------------------------------------------


def horizon(session: Session) -> tuple[int, int]:
    """The last position purged (a cursor before it has expired)."""
    found = session.get(FeedHorizon, _HORIZON)
    return START if found is None else (found.xid, found.seq)


def _keep_last(dialect: str) -> str:
    """SQLite gives a new row the largest row id plus one: the last change is never purged, or
    the next one would take a position already read."""
    return " AND ch.seq < (SELECT max(seq) FROM changements)" if dialect == "sqlite" else ""


def purge(session: Session, before: datetime, now: datetime) -> int:
    """Forget the changes logged before ``before`` (the retention), in feed order: everything
    up to the last such change a reader may take (on SQLite, short of the very last change);
    the number of changes forgotten."""
    dialect = session.get_bind().dialect.name
    bound = _bound(session, dialect)
    xid_text = "ch.xid::text" if dialect == "postgresql" else "ch.xid"
    last = session.execute(
        text(
            f"SELECT {xid_text}, ch.seq FROM changements ch"
            f" WHERE ch.horodatage < :avant AND {_visible_clause(dialect)}{_keep_last(dialect)}"
            f" ORDER BY {_order(dialect, descending=True)} LIMIT 1"
        ),
        {"avant": before, "borne": bound},
    ).one_or_none()
    if last is None:
        return 0
    position = (int(last[0]), int(last[1]))
    result: Any = session.execute(
        text(
            "DELETE FROM changements WHERE "
            + (
                f"(xid, seq) <= ({_xid(dialect, 'xid')}, :seq)"
                if dialect == "postgresql"
                else "seq <= :seq"
            )
        ),
        {"xid": str(position[0]) if dialect == "postgresql" else position[0], "seq": position[1]},
    )
    current = session.get(FeedHorizon, _HORIZON)
    if current is None:
        session.add(FeedHorizon(nom=_HORIZON, xid=position[0], seq=position[1], purge_le=now))
    elif (current.xid, current.seq) < position:
        current.xid, current.seq, current.purge_le = position[0], position[1], now
    return int(result.rowcount or 0)
