"""Every query on notebooks. Services call these; they never build SQL themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from gateway.storage.tables import (
    Change,
    IdempotencyRecord,
    IdentityConflict,
    NotebookRow,
    PartnerIdentifier,
)


def by_id(session: Session, carnet_id: str, territoires: Sequence[str]) -> NotebookRow | None:
    statement = select(NotebookRow).where(
        NotebookRow.id == carnet_id, col(NotebookRow.territoire).in_(territoires)
    )
    return session.exec(statement).first()


def by_id_for_update(session: Session, carnet_id: str) -> NotebookRow | None:
    statement = select(NotebookRow).where(NotebookRow.id == carnet_id).with_for_update()
    return session.exec(statement).first()


def by_nir(session: Session, nir13: str) -> NotebookRow | None:
    return session.exec(select(NotebookRow).where(NotebookRow.nir13 == nir13)).first()


def ids_by_identifiers(session: Session, identifiers: dict[str, str]) -> set[str]:
    if not identifiers:
        return set()
    found: set[str] = set()
    for kind, value in identifiers.items():
        row = session.get(PartnerIdentifier, (kind, value))
        if row is not None:
            found.add(row.carnet_id)
    return found


def by_identity(
    session: Session, territoire: str, nom_cle: str, prenom_cle: str, date_naissance: date
) -> list[NotebookRow]:
    statement = select(NotebookRow).where(
        NotebookRow.territoire == territoire,
        NotebookRow.nom_cle == nom_cle,
        NotebookRow.prenom_cle == prenom_cle,
        NotebookRow.date_naissance == date_naissance,
    )
    return list(session.exec(statement))


def rows_by_ids(session: Session, ids: set[str]) -> list[NotebookRow]:
    if not ids:
        return []
    return list(session.exec(select(NotebookRow).where(col(NotebookRow.id).in_(ids))))


def add_identifiers(session: Session, carnet_id: str, identifiers: dict[str, str]) -> None:
    for kind, value in identifiers.items():
        if session.get(PartnerIdentifier, (kind, value)) is None:
            session.add(PartnerIdentifier(type=kind, valeur=value, carnet_id=carnet_id))


def save_version(session: Session, row: NotebookRow, expected_version: int) -> bool:
    """Store ``row`` as its new version if the stored one is still ``expected_version``."""
    result = session.execute(
        update(NotebookRow)
        .where(col(NotebookRow.id) == row.id, col(NotebookRow.version) == expected_version)
        .values(
            version=row.version,
            document=row.document,
            vue=row.vue,
            nir13=row.nir13,
            nom_cle=row.nom_cle,
            prenom_cle=row.prenom_cle,
            date_naissance=row.date_naissance,
            modifie_le=row.modifie_le,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def log_change(session: Session, change: Change) -> None:
    session.add(change)


def changes(session: Session, carnet_id: str) -> list[Change]:
    statement = select(Change).where(Change.carnet_id == carnet_id).order_by(col(Change.seq))
    return list(session.exec(statement))


def record_conflict(session: Session, conflict: IdentityConflict) -> None:
    session.add(conflict)


def idempotency_record(session: Session, client_id: str, key: str) -> IdempotencyRecord | None:
    return session.get(IdempotencyRecord, (client_id, key))


def save_idempotency(session: Session, record: IdempotencyRecord) -> None:
    session.add(record)


def purge_idempotency(session: Session, before: datetime) -> None:
    from sqlalchemy import delete

    session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.cree_le) < before))


def search_statement(
    territoires: Sequence[str],
    *,
    nir13: str | None = None,
    date_naissance: date | None = None,
    carnet_ids: set[str] | None = None,
    territoire: str | None = None,
    modifie_depuis: datetime | None = None,
) -> Any:
    """The search query, restricted to the caller's territories, ordered by insertion rank."""
    statement = select(NotebookRow).where(col(NotebookRow.territoire).in_(territoires))
    if nir13 is not None:
        statement = statement.where(NotebookRow.nir13 == nir13)
    if date_naissance is not None:
        statement = statement.where(NotebookRow.date_naissance == date_naissance)
    if carnet_ids is not None:
        statement = statement.where(col(NotebookRow.id).in_(carnet_ids))
    if territoire is not None:
        statement = statement.where(NotebookRow.territoire == territoire)
    if modifie_depuis is not None:
        statement = statement.where(col(NotebookRow.modifie_le) >= modifie_depuis)
    return statement.order_by(col(NotebookRow.rang))


def count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(NotebookRow)).one())
