"""Poison-message protection for classic queues: count redeliveries in the bus store.

A message whose handler kills its process (or hangs until the connection drops) is never
acknowledged, so the broker delivers it again, and again. A quorum queue stopped that with a
delivery limit; the shared vhost uses classic queues (docs/scale-broker.md says why), so the
consumer counts instead: before handling a *redelivered* message it adds one to
``delivery_attempts`` in its own committed transaction (so the count survives the crash it is
about to guard against), and once a message has been delivered more than ``limit`` times it
goes to the dead-letter queue with reason ``delivery_limit`` instead of to its handler.

First deliveries, nearly all of them, write nothing: the cost falls only on the rare retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from messaging import topology
from messaging.store import DeliveryAttempt
from messaging.transports.base import Delivery
from tenants.schema import utcnow

REASON = "delivery_limit"


def message_key(delivery: Delivery) -> str:
    """The message id, or (for a message without one) a hash of its body."""
    if delivery.message_id:
        return delivery.message_id[:64]
    return hashlib.sha256(delivery.body).hexdigest()


def _upsert(session: Session, consumer: str, key: str) -> int:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # The first delivery was not counted: the first redelivery is the second attempt.
    values = insert(DeliveryAttempt).values(
        consumer=consumer, message_key=key, attempts=2, last_at=utcnow()
    )
    upsert = values.on_conflict_do_update(
        index_elements=["consumer", "message_key"],
        set_={"attempts": DeliveryAttempt.attempts + 1, "last_at": utcnow()},
    )
    return int(session.execute(upsert.returning(DeliveryAttempt.attempts)).scalar_one())


def count_redeliveries(
    engine: Engine,
    consumer: str,
    deliveries: Sequence[Delivery],
    limit: int = topology.DELIVERY_LIMIT,
) -> dict[int, int]:
    """Record one more attempt for each redelivered delivery; returns ``{index: attempts}`` of
    those delivered more than ``limit`` times (to be dead-lettered, not handled)."""
    redelivered = [(i, d) for i, d in enumerate(deliveries) if d.redelivered]
    if not redelivered:
        return {}
    over: dict[int, int] = {}
    with Session(engine) as session, session.begin():
        for index, delivery in redelivered:
            attempts = _upsert(session, consumer, message_key(delivery))
            if attempts > limit:
                over[index] = attempts
    return over


def forget(engine: Engine, consumer: str, deliveries: Sequence[Delivery]) -> None:
    """Drop the count of messages that left the queue (dead-lettered): a replayed message
    starts from zero."""
    keys = [message_key(d) for d in deliveries]
    if not keys:
        return
    with Session(engine) as session, session.begin():
        session.execute(
            delete(DeliveryAttempt).where(
                DeliveryAttempt.consumer == consumer, DeliveryAttempt.message_key.in_(keys)
            )
        )
