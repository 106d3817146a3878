"""Operator views of a tenant's bus (``integra status``, ``integra dlq``): outbox lag and
queue depths. They run with the operator's credentials, never a service user's; the
transport-specific reading of queues is the transport's (``Transport.queue_depths``,
``dead_letters``, ``replay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from messaging import topology
from messaging.dead_letters import QueueDepth
from messaging.store import OutboxMessage
from messaging.transports.base import Transport
from tenants.registry import Tenant


@dataclass(frozen=True)
class BusStatus:
    tenant: str
    outbox_pending: int
    outbox_failing: int  # pending rows that failed at least once (see last_error)
    outbox_lag_seconds: float  # age of the oldest pending row; 0 when none
    queues: tuple[QueueDepth, ...]


def status(transport: Transport, tenant: Tenant, engine: Engine) -> BusStatus:
    """Outbox lag of the tenant's database and the depth of each of its queues."""
    with Session(engine) as session:
        pending, failing, oldest = session.execute(
            select(
                func.count(),
                func.count().filter(OutboxMessage.attempts > 0),
                func.min(OutboxMessage.created_at),
            ).where(OutboxMessage.sent_at.is_(None))
        ).one()
    if isinstance(oldest, str):  # SQLite returns the aggregate unconverted
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    lag = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
    names = [n for spec in topology.queues(tenant) for n in (spec.name, spec.dead_letter_queue)]
    depths = transport.queue_depths(tenant, names)
    return BusStatus(tenant.slug, int(pending), int(failing), max(lag, 0.0), tuple(depths))
