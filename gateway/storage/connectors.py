"""Queries of the connectors' health and per-notebook pull state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from gateway.storage.tables import ConnectorHealth, ConnectorPull, NotebookRow


def _insert(session: Session, table: Any) -> Any:
    """An INSERT of the session's dialect, which knows ON CONFLICT (PostgreSQL, SQLite)."""
    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


def ensure_health(session: Session, slug: str) -> None:
    """The connector's health row, created once whatever the number of workers starting."""
    statement = _insert(session, ConnectorHealth).values(slug=slug, circuit="ferme")
    session.execute(statement.on_conflict_do_nothing(index_elements=["slug"]))


def health(session: Session) -> dict[str, ConnectorHealth]:
    return {row.slug: row for row in session.exec(select(ConnectorHealth))}


def record_call(
    session: Session,
    slug: str,
    *,
    at: datetime,
    error: str | None,
    unchanged: bool,
    unknown_codes: int,
    circuit: str,
    unknown_fields: int = 0,
) -> None:
    """Count one call in place (``x = x + 1``: concurrent workers never lose a count)."""
    ensure_health(session, slug)
    table = ConnectorHealth
    values: dict[str, object] = {
        "appels": col(table.appels) + 1,
        "codes_inconnus": col(table.codes_inconnus) + unknown_codes,
        "champs_inconnus": col(table.champs_inconnus) + unknown_fields,
        "circuit": circuit,
    }
    if error is None:
        values["reussites"] = col(table.reussites) + 1
        values["derniere_reussite"] = at
        if unchanged:
            values["inchanges"] = col(table.inchanges) + 1
    else:
        values["echecs"] = col(table.echecs) + 1
        values["dernier_echec"] = at
        values["dernier_code_erreur"] = error
    session.execute(update(table).where(col(table.slug) == slug).values(values))


def pull_state(session: Session, slug: str, carnet_id: str) -> ConnectorPull | None:
    return session.get(ConnectorPull, (slug, carnet_id))


def save_pull_state(session: Session, state: ConnectorPull) -> None:
    """Insert or replace the pull state (two workers may pull the same notebook at once)."""
    values = state.model_dump()
    statement = _insert(session, ConnectorPull).values(values)
    keys = ("slug", "carnet_id")
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={k: statement.excluded[k] for k in values if k not in keys},
        )
    )


def notebook(session: Session, carnet_id: str) -> NotebookRow | None:
    return session.exec(select(NotebookRow).where(NotebookRow.id == carnet_id)).first()


def notebooks_of(session: Session, territoire: str) -> list[str]:
    """The notebooks of a territory, in creation order (the connector says which it cannot
    pull: an incomplete identity makes no call)."""
    statement = (
        select(NotebookRow.id)
        .where(NotebookRow.territoire == territoire)
        .order_by(col(NotebookRow.rang))
    )
    return list(session.exec(statement))
