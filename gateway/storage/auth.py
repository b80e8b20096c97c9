"""Queries on the keys that sign access tokens and on the private-key JWT assertions seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from gateway.storage.tables import Client, Organisation, SigningKey, UsedAssertion


def lock_keys(session: Session) -> None:
    """On PostgreSQL, lock the keys' table for this transaction, so that workers starting
    together agree on one key (SQLite write transactions are exclusive already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE cles_signature IN EXCLUSIVE MODE"))


def signing_keys(session: Session) -> list[SigningKey]:
    """Every signing key, active or retired."""
    return list(session.exec(select(SigningKey)))


def save(session: Session, row: SigningKey | UsedAssertion) -> None:
    """Record a new or changed key, or an assertion seen (flushed)."""
    session.add(row)
    session.flush()


def forget_expired_assertions(session: Session, now: datetime) -> None:
    """Forget the assertions whose tokens have expired (a replay of them is refused anyway)."""
    session.execute(delete(UsedAssertion).where(col(UsedAssertion.expire_le) < now))


def client_and_organisation(
    session: Session, client_id: str
) -> tuple[Client | None, Organisation | None]:
    """A client and its organisation (either None when unknown)."""
    client = session.get(Client, client_id)
    if client is None:
        return None, None
    return client, session.get(Organisation, client.organisation_id)
