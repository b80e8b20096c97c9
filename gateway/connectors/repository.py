"""Queries of the connectors' health and per-notebook pull state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from gateway.storage.tables import ConnectorHealth, ConnectorPull, NotebookRow


def ensure_health(session: Session, slug: str) -> None:
    if session.get(ConnectorHealth, slug) is None:
        session.add(ConnectorHealth(slug=slug))
        session.flush()


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
) -> None:
    """Count one call in place (``x = x + 1``: concurrent workers never lose a count)."""
    ensure_health(session, slug)
    table = ConnectorHealth
    values: dict[str, object] = {
        "appels": col(table.appels) + 1,
        "codes_inconnus": col(table.codes_inconnus) + unknown_codes,
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
    session.merge(state)


def notebook(session: Session, carnet_id: str) -> NotebookRow | None:
    return session.exec(select(NotebookRow).where(NotebookRow.id == carnet_id)).first()


def notebooks_of(session: Session, territoire: str) -> list[str]:
    """The notebooks of a territory that hold a NIR (what a pull needs), in creation order."""
    statement = (
        select(NotebookRow.id)
        .where(NotebookRow.territoire == territoire, col(NotebookRow.nir13).is_not(None))
        .order_by(col(NotebookRow.rang))
    )
    return list(session.exec(statement))
