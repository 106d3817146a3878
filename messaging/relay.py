"""The outbox relay: publishes committed outbox rows and marks them sent.

One relay per tenant (and service) outbox. A pass reads pending rows in commit order, signs them
with the tenant's key, publishes them with confirms and marks the confirmed ones sent in one
short transaction. Order per correlation (referral) is kept: rows of a correlation are published
in sequence order, and when one of them fails the ones behind it wait for it (they are neither
published nor marked sent before it). Anything not confirmed stays pending and is published
again after a reconnect; receivers drop the duplicates through their inbox.

Running it: :meth:`OutboxRelay.run_pass` is a job of the process's shared work pool
(``messaging.runtime``), woken right after the writer's commit (an after-commit hook, see
``messaging.outbox``) and by the process's one outbox sweeper; no connection, thread or timer
per idle tenant. On PostgreSQL a pass holds a transaction-scoped advisory lock of its tenant
(``pg_try_advisory_xact_lock``), so two processes never relay the same outbox at once, also
through a pooler in transaction mode. :meth:`OutboxRelay.run` is the same pass in a loop of its
own, for a single connector run by hand (``integra connector run``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from messaging import topology, wakeups
from messaging.metrics import UNKNOWN, bus_metrics, type_label
from messaging.outbox import relay_key
from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.store import OutboxMessage
from messaging.transports.base import OutgoingMessage, Publisher, PublishResult, Transport
from tenants.registry import Tenant

log = logging.getLogger(__name__)

#: Advisory lock class of the relay; the second key is the hash of the tenant's schema.
RELAY_LOCK_KEY = 0x1A7E6A
#: A relay whose outbox stayed empty this long closes its broker connection.
PUBLISHER_IDLE_CLOSE = 10.0
#: When another process holds a tenant's relay lock, look again after this long.
LOCKED_RETRY = 2.0


def _in_sequence_per_correlation(rows: list[Any]) -> list[Any]:
    """Keep the commit order across referrals, but sequence order within each referral."""
    slots: dict[uuid.UUID, list[int]] = {}
    for index, row in enumerate(rows):
        slots.setdefault(row.correlation_id, []).append(index)
    ordered: list[Any] = [None] * len(rows)
    for indexes in slots.values():
        members = sorted((rows[i] for i in indexes), key=lambda r: r.sequence)
        for i, row in zip(indexes, members, strict=True):
            ordered[i] = row
    return [row for row in ordered if row is not None]


def _count_published(messages: list[OutgoingMessage], sent: set[uuid.UUID]) -> None:
    published = bus_metrics().published
    for message in messages:
        if message.id in sent:
            tenant = str(message.headers.get("x-integra-tenant", UNKNOWN))
            published.labels(tenant, type_label(message.type)).inc()


class OutboxRelay:
    """Publishes a tenant's outbox. Build one per tenant; :meth:`run` in its own thread."""

    def __init__(
        self,
        engine: Engine,
        signer: EnvelopeSigner,
        publisher: Publisher,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.stop_event = threading.Event()
        self._backoff = 0.0
        self._last_publish: float | None = None

    @classmethod
    def for_tenant(
        cls,
        transport: Transport,
        tenant: Tenant,
        engine: Engine,
        *,
        party: str = topology.AGREEMENTS,
        url: str | None = None,
        window: int = 500,
        **kwargs: Any,
    ) -> OutboxRelay:
        """The relay of a tenant's service (``party``) on ``transport``."""
        signer = EnvelopeSigner(BusKeyring.load(transport.settings, tenant.slug))
        publisher = transport.publisher(tenant, url or transport.url(tenant, party), window=window)
        return cls(engine, signer, publisher, **kwargs)

    # one pass ---------------------------------------------------------------------------------

    def _pending(self, session: Session) -> list[Any]:
        """Pending rows as plain rows (no ORM identity map: the relay only reads them)."""
        return list(
            session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.correlation_id,
                    OutboxMessage.sequence,
                    OutboxMessage.type,
                    OutboxMessage.envelope,
                    OutboxMessage.encrypt,
                    OutboxMessage.attempts,
                )
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.created_at, OutboxMessage.sequence)
                .limit(self.batch_size)
            )
        )

    def _prepare(self, rows: list[Any]) -> tuple[list[OutgoingMessage], dict[str, str]]:
        """Sign rows into messages, holding back rows behind a failed one of their correlation."""
        rows = _in_sequence_per_correlation(rows)
        held: set[uuid.UUID] = set()
        messages: list[OutgoingMessage] = []
        errors: dict[str, str] = {}
        for row in rows:
            if row.correlation_id in held:
                continue
            if row.attempts > 0:
                held.add(row.correlation_id)  # publish the failed row again, hold the rest
            data = row.envelope
            try:
                body = self.signer.sign_data(data, encrypt=row.encrypt)
            except Exception as exc:
                errors[str(row.id)] = f"cannot sign: {exc!r}"
                held.add(row.correlation_id)
                continue
            messages.append(
                OutgoingMessage(
                    id=row.id,
                    routing_key=topology.routing_key(
                        data["tenant"], data["recipient"], data["type"]
                    ),
                    body=body,
                    headers={
                        "x-integra-tenant": data["tenant"],
                        "x-integra-version": data["version"],
                        "x-integra-sequence": row.sequence,
                        "x-integra-sender": data["sender"],
                    },
                    correlation_id=str(row.correlation_id),
                    type=row.type,
                )
            )
        return messages, errors

    def publish_pending(self) -> tuple[int, int]:
        """Publish one batch; returns (sent, failed). Does not reconnect or wait."""
        with Session(self.engine) as session:
            rows = self._pending(session)
            if not rows:
                return 0, 0
            order = {row.id: (row.correlation_id, row.sequence) for row in rows}
            messages, sign_errors = self._prepare(rows)
            session.rollback()  # release the snapshot while publishing
        result = self.publisher.publish(messages) if messages else PublishResult()
        failed = {uuid.UUID(k): v for k, v in sign_errors.items()} | result.failed
        # a confirmed row behind a failed one of the same correlation stays pending
        first_failure: dict[uuid.UUID, int] = {}
        for msg_id in failed:
            corr, seq = order[msg_id]
            first_failure[corr] = min(seq, first_failure.get(corr, seq))
        sent = [
            msg_id
            for msg_id in result.confirmed
            if order[msg_id][1] < first_failure.get(order[msg_id][0], 1 << 62)
        ]
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            if sent:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(sent))
                    .values(sent_at=now, attempts=OutboxMessage.attempts + 1, last_error=None)
                )
            for msg_id, reason in failed.items():
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == msg_id)
                    .values(attempts=OutboxMessage.attempts + 1, last_error=reason[:2000])
                )
        if failed:
            log.warning("relay: %d of %d messages not confirmed", len(failed), len(rows))
        _count_published(messages, set(sent))
        return len(sent), len(failed)

    def drain(self, timeout: float = 30.0) -> int:
        """Publish until the outbox is empty or ``timeout`` passes (tests, CLI). Returns sent."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            sent, failed = self.publish_pending()
            total += sent
            if not sent and not failed:
                break
            if failed and not sent:
                time.sleep(0.2)
        return total

    # the pass as a job of the shared pool -----------------------------------------------------

    def run_pass(self) -> float | None:
        """Publish what is pending; returns when to run again (a job of ``WorkPool``):
        0 while batches are full, a backoff after failures, ``None`` once the outbox is empty
        and the broker connection closed."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as lock:  # begins as the tenant (SET LOCAL ROLE)
                held = lock.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"),
                    {"k": RELAY_LOCK_KEY},
                ).scalar()
                if not held:
                    return LOCKED_RETRY  # another process relays this tenant right now
                return self._pass()
        return self._pass()

    def _pass(self) -> float | None:
        sent, failed = self.publish_pending()
        now = time.monotonic()
        if sent or failed:
            self._last_publish = now
        if failed:
            self._backoff = min(self.max_backoff, max(0.1, self._backoff * 2))
            return self._backoff
        self._backoff = 0.0
        if sent:
            return 0.0  # there may be more
        if self._last_publish is None:
            return None
        idle = now - self._last_publish
        if idle < PUBLISHER_IDLE_CLOSE:
            return PUBLISHER_IDLE_CLOSE - idle
        self.publisher.close()  # an idle tenant keeps no broker connection
        self._last_publish = None
        return None

    # a loop of its own (one connector run by hand, tests) -------------------------------------

    def run(self, on_idle: Callable[[], None] | None = None) -> None:
        """Publish until :meth:`stop`; wake on a commit in this process or every
        ``poll_interval`` (for writers in other processes)."""
        with wakeups.listening(relay_key(self.engine), self.publisher.wake):
            try:
                self._run(on_idle)
            finally:
                self.publisher.close()

    def _run(self, on_idle: Callable[[], None] | None) -> None:
        while not self.stop_event.is_set():
            try:
                delay = self.run_pass()
            except Exception:
                log.exception("relay: pass failed")
                delay = self._backoff = min(self.max_backoff, max(0.1, self._backoff * 2))
            if delay == 0:
                continue
            if on_idle is not None and delay is None:
                on_idle()
            self.publisher.idle(min(delay or self.poll_interval, self.poll_interval))

    def stop(self) -> None:
        """Ask :meth:`run` to return (from any thread); it wakes from its wait at once."""
        self.stop_event.set()
        self.publisher.wake()
