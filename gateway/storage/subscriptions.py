"""Every query on subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, text, update
from sqlmodel import Session, col, select

from gateway.storage import driver
from gateway.storage.tables import Delivery, Organisation, Subscription
from gateway.subscriptions.events import DELIVERED, FAILED, GONE, HEARTBEAT, PENDING


def of_organisation(session: Session, organisation_id: str) -> list[Subscription]:
    statement = (
        select(Subscription)
        .where(Subscription.organisation_id == organisation_id)
        .order_by(col(Subscription.cree_le), col(Subscription.id))
    )
    return list(session.exec(statement))


def every(session: Session) -> list[Subscription]:
    return list(session.exec(select(Subscription).order_by(col(Subscription.id))))


def replace_secrets(session: Session, subscription: Subscription, sealed: dict[str, str]) -> bool:
    """Write the secrets ``sealed`` again (by column) over those ``subscription`` was read
    with, as one compare-and-swap: a rotation committed since stands, its row untouched.
    Whether they were written."""
    result: Any = session.execute(
        update(Subscription)
        .where(
            col(Subscription.id) == subscription.id,
            col(Subscription.secret) == subscription.secret,
            col(Subscription.secret_precedent).is_not_distinct_from(subscription.secret_precedent),
        )
        .values(**sealed)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def get(session: Session, subscription_id: str, organisation_id: str) -> Subscription | None:
    """An organisation's subscription (another organisation's does not exist for it)."""
    found = session.get(Subscription, subscription_id)
    return found if found is not None and found.organisation_id == organisation_id else None


def add(session: Session, subscription: Subscription) -> None:
    session.add(subscription)


def remove(session: Session, subscription: Subscription) -> None:
    """Forget a subscription and its deliveries."""
    session.execute(delete(Delivery).where(col(Delivery.abonnement_id) == subscription.id))
    session.delete(subscription)


def deliveries(
    session: Session, subscription_id: str, *, after: int | None, limit: int, statut: str | None
) -> list[Delivery]:
    """A subscription's deliveries, newest first, before the delivery ``after``."""
    statement = select(Delivery).where(Delivery.abonnement_id == subscription_id)
    if statut is not None:
        statement = statement.where(Delivery.statut == statut)
    if after is not None:
        statement = statement.where(col(Delivery.id) < after)
    return list(session.exec(statement.order_by(col(Delivery.id).desc()).limit(limit)))


def delivery(session: Session, subscription_id: str, delivery_id: int) -> Delivery | None:
    found = session.get(Delivery, delivery_id)
    return found if found is not None and found.abonnement_id == subscription_id else None


def delivery_of_territories(
    session: Session, delivery_id: int, territoires: tuple[str, ...]
) -> Delivery | None:
    """A delivery to a subscription of an organisation whose territories are all among
    ``territoires`` (an operator's, as :func:`deliveries_of_territories` lists them)."""
    found = session.exec(
        select(Delivery, Organisation)
        .join(Subscription, col(Subscription.id) == col(Delivery.abonnement_id))
        .join(Organisation, col(Organisation.id) == col(Subscription.organisation_id))
        .where(col(Delivery.id) == delivery_id)
    ).first()
    if found is None:
        return None
    delivery, organisation = found
    held = organisation.territoires
    return delivery if held and set(held) <= set(territoires) else None


def deliveries_of_territories(
    session: Session,
    territoires: tuple[str, ...],
    *,
    after: int | None,
    limit: int,
    statut: str | None,
) -> list[tuple[Delivery, str]]:
    """Deliveries to the subscriptions of the organisations whose territories are all among
    ``territoires`` (an operator's), newest first, with their organisation."""
    statement = (
        select(Delivery, Organisation)
        .join(Subscription, col(Subscription.id) == col(Delivery.abonnement_id))
        .join(Organisation, col(Organisation.id) == col(Subscription.organisation_id))
    )
    if statut is not None:
        statement = statement.where(Delivery.statut == statut)
    if after is not None:
        statement = statement.where(col(Delivery.id) < after)
    statement = statement.order_by(col(Delivery.id).desc())
    found = []
    # Territories are a JSON list: the rows outside the operator's are skipped here, in id
    # order, until the page is full.
    for delivery, organisation in session.exec(statement):
        if organisation.territoires and set(organisation.territoires) <= set(territoires):
            found.append((delivery, organisation.id))
            if len(found) == limit:
                break
    return found


@dataclass(frozen=True, slots=True)
class Purged:
    delivered: int
    heartbeats: int
    dead: int


def purge_deliveries(
    session: Session,
    *,
    delivered_before: datetime,
    heartbeats_before: datetime,
    dead_before: datetime,
) -> Purged:
    """Forget the change events delivered before ``delivered_before``, the heartbeats created
    before ``heartbeats_before`` (delivered or not: an old one says nothing), and the dead
    letters (every attempt failed, or 410) created before ``dead_before`` — until then they
    stay listed and redeliverable. Events still to deliver are never forgotten."""
    change = col(Delivery.type) != HEARTBEAT
    delivered: Any = session.execute(
        delete(Delivery).where(
            change, col(Delivery.statut) == DELIVERED, col(Delivery.livre_le) < delivered_before
        )
    )
    heartbeats: Any = session.execute(
        delete(Delivery).where(
            col(Delivery.type) == HEARTBEAT, col(Delivery.cree_le) < heartbeats_before
        )
    )
    dead: Any = session.execute(
        delete(Delivery).where(
            change, col(Delivery.statut).in_((FAILED, GONE)), col(Delivery.cree_le) < dead_before
        )
    )
    return Purged(
        int(delivered.rowcount or 0), int(heartbeats.rowcount or 0), int(dead.rowcount or 0)
    )


# -- the delivery worker ----------------------------------------------------------------------

_DUE = (
    "SELECT l.id FROM livraisons l"
    " JOIN abonnements a ON a.id = l.abonnement_id AND a.actif"
    " WHERE l.statut = :statut AND l.prochaine_tentative <= :now"
    " ORDER BY l.prochaine_tentative, l.id LIMIT :limite"
)
_HEARTBEATS_DUE = text(
    "SELECT a.id, a.types FROM abonnements a WHERE a.actif AND NOT EXISTS"
    " (SELECT 1 FROM livraisons l WHERE l.abonnement_id = a.id"
    " AND l.type = :type AND l.cree_le > :depuis)"
)
_RENEW = text(
    "UPDATE livraisons SET prochaine_tentative = :bail_expire"
    " WHERE id = :id AND bail = :bail AND statut = :statut"
)


def due(session: Session, now: datetime, limit: int) -> list[int]:
    """The pending deliveries of active subscriptions whose time has come, the earliest
    first, locked for this transaction (PostgreSQL: skipping those another worker holds)."""
    dialect = session.get_bind().dialect.name
    skip_locked = " FOR UPDATE OF l SKIP LOCKED" if dialect == "postgresql" else ""
    found = session.execute(
        text(_DUE + skip_locked), {"statut": PENDING, "now": now, "limite": limit}
    )
    return list(found.scalars())


def delivery_by_id(session: Session, delivery_id: int | None) -> Delivery | None:
    return session.get(Delivery, delivery_id)


def subscription_by_id(session: Session, subscription_id: str) -> Subscription | None:
    return session.get(Subscription, subscription_id)


def heartbeats_due(session: Session, now: datetime, interval: timedelta) -> list[tuple[str, Any]]:
    """(id, types) of the active subscriptions without a heartbeat queued for ``interval``."""
    rows = session.execute(_HEARTBEATS_DUE, {"type": HEARTBEAT, "depuis": now - interval})
    return [(subscription_id, types) for subscription_id, types in rows]


def queue(session: Session, rows: list[dict[str, Any]]) -> None:
    """Queue deliveries (the columns of :class:`Delivery`)."""
    if rows:
        session.execute(insert(Delivery.__table__), rows)  # type: ignore[attr-defined]


def renew_lease(session: Session, delivery_id: int | None, token: str, until: datetime) -> bool:
    """Extend a worker's lease on a pending delivery; False when the lease is not its own."""
    result = session.execute(
        _RENEW, {"bail_expire": until, "id": delivery_id, "bail": token, "statut": PENDING}
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def disable(session: Session, subscription_id: str, reason: str, now: datetime) -> None:
    """Disable a subscription (its receiver is gone)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is not None:
        subscription.actif = False
        subscription.motif_desactivation = reason
        subscription.modifie_le = now


# -- the outbox ---------------------------------------------------------------------------------

#: The active subscriptions of active clients of active organisations, with what decides
#: whether their organisation may see the notebook (a disabled client's tokens are refused: its
#: subscriptions get nothing new either).
_CANDIDATES = text(
    "SELECT s.id, s.territoires, s.sections, s.categories, s.types,"
    " o.type_acteur, o.territoires, o.derogations,"
    " EXISTS (SELECT 1 FROM groupe_suivi g WHERE g.carnet_id = :carnet_id"
    " AND g.organisation_id = o.id AND g.jusqu_au IS NULL)"
    " FROM abonnements s JOIN organisations o ON o.id = s.organisation_id"
    " JOIN clients cl ON cl.client_id = s.client_id"
    " WHERE s.actif AND o.actif AND cl.actif"
)
_INSERT = insert(Delivery.__table__)  # type: ignore[attr-defined]


def candidates(session: Session, carnet_id: str) -> list[tuple[Any, ...]]:
    """The subscriptions that may receive a change of ``carnet_id`` (see :data:`_CANDIDATES`),
    in the write's transaction, columns as the driver gives them."""
    return driver.fetch(session, _CANDIDATES, {"carnet_id": carnet_id})


def queue_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Queue deliveries in the write's transaction (one multi-row insert on the driver)."""
    driver.run_many(session, _INSERT, rows)
