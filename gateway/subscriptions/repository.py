"""Every query on subscriptions."""

from __future__ import annotations

from sqlmodel import Session, col, select

from gateway.storage.tables import Subscription


def of_organisation(session: Session, organisation_id: str) -> list[Subscription]:
    statement = (
        select(Subscription)
        .where(Subscription.organisation_id == organisation_id)
        .order_by(col(Subscription.cree_le), col(Subscription.id))
    )
    return list(session.exec(statement))


def get(session: Session, subscription_id: str, organisation_id: str) -> Subscription | None:
    """An organisation's subscription (another organisation's does not exist for it)."""
    found = session.get(Subscription, subscription_id)
    return found if found is not None and found.organisation_id == organisation_id else None


def add(session: Session, subscription: Subscription) -> None:
    session.add(subscription)


def remove(session: Session, subscription: Subscription) -> None:
    session.delete(subscription)
