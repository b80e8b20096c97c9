"""Queries of the CAF/MSA import jobs: the jobs, their claim and progress, the notebooks of a
NIR in a territory, and what each import last applied to a notebook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlmodel import Session

from gateway.storage.tables import ImportJob, ImportState

#: The notebooks of a NIR in a territory, with their ``personne`` section as the view shows it.
BY_NIR = text(
    "SELECT c.id, c.date_naissance, e.vue FROM carnets c"
    " LEFT JOIN carnets_etats e ON e.carnet_id = c.id AND e.volet = 'personne'"
    " WHERE c.nir = :nir AND c.territoire = :territoire LIMIT 2"
)
STATE = text(
    "SELECT observation, empreinte FROM imports_suivi"
    " WHERE connecteur = :connecteur AND carnet_id = :carnet_id"
)
PROGRESS = text(
    "UPDATE imports SET foyers_traites = :position, modifie_le = :at"
    " WHERE id = :id AND proprietaire = :token"
)
#: A job is run by the process that holds its claim (compare-and-set on the previous one):
#: two processes resuming the same job at start-up never both apply it; one that lost the
#: claim rolls back its current batch and stops.
CLAIM = text(
    "UPDATE imports SET proprietaire = :token, modifie_le = :at WHERE id = :id"
    " AND statut IN ('en_attente', 'en_cours')"
    " AND (proprietaire = :previous OR (proprietaire IS NULL AND :previous IS NULL))"
)


def job(session: Session, job_id: str) -> ImportJob | None:
    return session.get(ImportJob, job_id)


def save(session: Session, row: ImportJob) -> None:
    """Record a new or changed job in the session's transaction."""
    session.add(row)


def done_with(session: Session, connecteur: str, sha256: str, done: str) -> ImportJob | None:
    """The first job of ``connecteur`` done with the file of ``sha256`` (None: never)."""
    return session.execute(
        select(ImportJob)
        .where(ImportJob.connecteur == connecteur)  # type: ignore[arg-type]
        .where(ImportJob.sha256 == sha256)  # type: ignore[arg-type]
        .where(ImportJob.statut == done)  # type: ignore[arg-type]
        .order_by(ImportJob.cree_le)  # type: ignore[arg-type]
        .limit(1)
    ).scalar_one_or_none()


def unfinished(session: Session, states: tuple[str, ...]) -> list[str]:
    """The jobs in ``states``, the oldest first."""
    rows = session.execute(
        select(ImportJob.id)  # type: ignore[call-overload]
        .where(ImportJob.statut.in_(states))  # type: ignore[attr-defined]
        .order_by(ImportJob.cree_le)
    ).all()
    return [row[0] for row in rows]


def claim(session: Session, job_id: str, token: str, previous: str | None, at: datetime) -> bool:
    """Take a job over from its ``previous`` owner (compare-and-set, see :data:`CLAIM`)."""
    claimed = session.execute(CLAIM, {"token": token, "at": at, "id": job_id, "previous": previous})
    return getattr(claimed, "rowcount", 0) == 1


def set_running(session: Session, job_id: str, running: str, total: int, at: datetime) -> None:
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)  # type: ignore[arg-type]
        .values(statut=running, foyers_total=total, modifie_le=at)
    )


def progress(session: Session, job_id: str, position: int, token: str | None, at: datetime) -> bool:
    """Record a job's progress if this process still owns it (False: another took it over)."""
    moved = session.execute(
        PROGRESS, {"id": job_id, "position": position, "at": at, "token": token}
    )
    return getattr(moved, "rowcount", 0) == 1


def by_nir(session: Session, nir: str, territoire: str) -> list[Any]:
    """(id, birth date, ``personne`` view) of the notebooks of a NIR in a territory (2 at most)."""
    return list(session.execute(BY_NIR, {"nir": nir, "territoire": territoire}).all())


def last_applied(session: Session, connecteur: str, carnet_id: str) -> Any:
    """(observation, fingerprint) of what ``connecteur`` last applied to a notebook, or None."""
    return session.execute(STATE, {"connecteur": connecteur, "carnet_id": carnet_id}).first()


def remember(session: Session, state: ImportState) -> None:
    """Record what an import applied to a notebook (replacing the previous record)."""
    session.merge(state)
