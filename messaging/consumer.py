"""Consumers with an idempotent inbox: a message takes effect once, or lands in the DLQ.

A handler receives ``(session, envelope)`` and changes state through the same operations the
API uses, without committing. The consumer records the message id in ``inbox_messages`` in the
same transaction and commits; only then is the message acknowledged. A redelivered message
whose id is already in the inbox is acknowledged without calling the handler again.

Handling runs in a worker thread while the connection's own thread keeps heartbeats going, so a
long handler does not lose the connection. Deliveries are handled in batches of up to the
prefetch count in one transaction (the fast path); when a handler fails, the batch is rolled
back and each message is handled alone, with retries and backoff. A message that is invalid
(oversized, malformed, bad signature, other tenant, other recipient, unknown type, schema),
keeps failing, or was delivered more than ``delivery_limit`` times without being settled (its
handler or process died each time: :mod:`messaging.delivery_attempts`) is published to the
dead-letter exchange with its reason in headers, logged in ``dead_letters`` (and passed to
``on_dead_letter`` for the service's audit log) and then acknowledged, so the messages behind
it are processed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from messaging import delivery_attempts, topology
from messaging.contracts import MESSAGE_TYPES, ContractError
from messaging.dead_letters import (
    DEAD_AT_HEADER,
    DEAD_DETAIL_HEADER,
    DEAD_QUEUE_HEADER,
    DEAD_REASON_HEADER,
)
from messaging.envelope import Envelope
from messaging.metrics import UNKNOWN, bus_metrics, type_label
from messaging.signing import EnvelopeVerifier
from messaging.store import DeadLetter, InboxMessage
from messaging.transports.base import ConsumerRunner, Delivery, Outcome, Transport
from tenants import log_context
from tenants.registry import Tenant

log = logging.getLogger(__name__)

#: Larger bodies are refused before any parsing.
MAX_BODY_BYTES = 256 * 1024

Handler = Callable[[Session, Envelope], None]


class DatabaseUnavailable(Exception):
    """The tenant database kept failing: leave the batch unacknowledged, back off, retry.

    Raised instead of dead-lettering, so an outage never sends valid messages to the DLQ.
    """


@dataclass(frozen=True)
class DeadLetterInfo:
    """What ``on_dead_letter`` gets to write the service's audit entry."""

    message_id: uuid.UUID | None
    type: str | None
    consumer: str
    reason_code: str
    reason_text: str | None


class MessageConsumer:
    """The inbox consumer of one party (service) of one tenant."""

    def __init__(
        self,
        transport: Transport,
        tenant: Tenant,
        party: str,
        engine: Engine,
        *,
        url: str | None = None,
        prefetch: int = 200,
        retry_delays: Sequence[float] = (0.1, 0.5, 2.0),
        max_body_bytes: int = MAX_BODY_BYTES,
        on_dead_letter: Callable[[Session, DeadLetterInfo], None] | None = None,
        heartbeat: int = 30,
        delivery_limit: int = topology.DELIVERY_LIMIT,
    ) -> None:
        self.transport = transport
        self.tenant = tenant
        self.party = party
        self.queue = topology.QueueSpec(tenant.slug, party)
        self.engine = engine
        self.url = url or transport.url(tenant, party)
        self.prefetch = prefetch
        self.retry_delays = tuple(retry_delays)
        self.max_body_bytes = max_body_bytes
        self.on_dead_letter = on_dead_letter
        self.heartbeat = heartbeat
        self.delivery_limit = delivery_limit
        self.verifier = EnvelopeVerifier(transport.settings, tenant.slug, party)
        self.handlers: dict[str, Handler] = {}
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self._runner: ConsumerRunner | None = None

    # registration ---------------------------------------------------------------------------

    def register(self, message_type: str, handler: Handler) -> None:
        if message_type not in MESSAGE_TYPES:
            raise ValueError(f"no contract for message type {message_type!r}")
        if message_type in self.handlers:
            raise ValueError(f"{message_type} already has a handler")
        self.handlers[message_type] = handler

    def handles(self, message_type: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(handler: Handler) -> Handler:
            self.register(message_type, handler)
            return handler

        return decorate

    # the transport-independent core ----------------------------------------------------------

    def _decode(self, delivery: Delivery) -> Outcome:
        if len(delivery.body) > self.max_body_bytes:
            return Outcome(delivery, dead_reason="oversized", dead_detail=f"{len(delivery.body)} B")
        try:
            envelope = self.verifier.verify(delivery.body)
        except ContractError as exc:
            return Outcome(delivery, dead_reason=exc.code, dead_detail=str(exc.detail)[:1000])
        if envelope.type not in self.handlers:
            return Outcome(
                delivery,
                envelope,
                dead_reason="unknown_type",
                dead_detail=f"{self.party} has no handler for {envelope.type}",
            )
        return Outcome(delivery, envelope)

    def _apply(self, session: Session, outcome: Outcome) -> dict[str, Any]:
        """Run the handler; return the inbox row to insert in the same transaction."""
        envelope = outcome.envelope
        assert envelope is not None
        with log_context.bound(tenant=self.tenant.slug, correlation_id=envelope.correlation_id):
            self.handlers[envelope.type](session, envelope)
        return {
            "id": envelope.id,
            "consumer": self.queue.name,
            "type": envelope.type,
            "correlation_id": envelope.correlation_id,
            "received_at": datetime.now(UTC),
        }

    def _seen(self, session: Session, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return set(session.scalars(select(InboxMessage.id).where(InboxMessage.id.in_(ids))))

    def process(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """Decide every delivery: effect committed (ack), duplicate (ack) or dead letter."""
        over = delivery_attempts.count_redeliveries(
            self.engine, self.queue.name, deliveries, self.delivery_limit
        )
        outcomes = [
            Outcome(d, dead_reason=delivery_attempts.REASON, dead_detail=f"{over[i]} deliveries")
            if i in over
            else self._decode(d)
            for i, d in enumerate(deliveries)
        ]
        valid = [o for o in outcomes if not o.dead]
        if valid:
            try:
                self._apply_batch(valid)
            except Exception:
                log.info("batch of %d failed; handling one by one", len(valid), exc_info=True)
                for outcome in valid:
                    self._apply_alone(outcome)
        for outcome in outcomes:
            if outcome.dead:
                self._log_dead_letter(outcome)
        self._count(outcomes)
        retried = [o.delivery for o in outcomes if o.dead and o.delivery.redelivered]
        delivery_attempts.forget(self.engine, self.queue.name, retried)
        return outcomes

    def _count(self, outcomes: list[Outcome]) -> None:
        metrics, tenant = bus_metrics(), self.tenant.slug
        for outcome in outcomes:
            envelope = outcome.envelope
            kind = type_label(envelope.type if envelope else outcome.delivery.headers.get("type"))
            if outcome.dead:
                reason = outcome.dead_reason or UNKNOWN
                metrics.dead_lettered.labels(tenant, kind, reason).inc()
            else:
                effect = "duplicate" if outcome.duplicate else "effect"
                metrics.consumed.labels(tenant, kind, effect).inc()

    def _apply_batch(self, valid: list[Outcome]) -> None:
        with Session(self.engine) as session, session.begin():
            seen = self._seen(session, [o.envelope.id for o in valid if o.envelope])
            inbox = []
            for outcome in valid:
                assert outcome.envelope is not None
                if outcome.envelope.id in seen:
                    outcome.duplicate = True
                    continue
                seen.add(outcome.envelope.id)
                inbox.append(self._apply(session, outcome))
            if inbox:
                session.execute(insert(InboxMessage), inbox)

    def _apply_alone(self, outcome: Outcome) -> None:
        assert outcome.envelope is not None
        outcome.duplicate = False
        last_error = ""
        unavailable: Exception | None = None
        for attempt in range(len(self.retry_delays) + 1):
            if self.stop_event.is_set() and attempt:
                break
            try:
                with Session(self.engine) as session, session.begin():
                    if self._seen(session, [outcome.envelope.id]):
                        outcome.duplicate = True
                        return
                    session.execute(insert(InboxMessage), [self._apply(session, outcome)])
                return
            except ContractError as exc:
                # The message breaks a rule of its receiver (an answer from an agency the
                # referral did not go to, about a referral that does not exist): no retry
                # changes that, so it goes to the dead letters at once, with its own reason.
                outcome.dead_reason = exc.code
                outcome.dead_detail = str(exc.detail)[:1000]
                return
            except IntegrityError as exc:
                last_error = f"{type(exc).__name__}: {exc.orig!r}"  # maybe a concurrent duplicate
            except (OperationalError, InterfaceError) as exc:
                unavailable = exc  # the database, not the message, is the problem
                last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt < len(self.retry_delays):
                time.sleep(self.retry_delays[attempt])
        if unavailable is not None:
            raise DatabaseUnavailable(last_error) from unavailable
        outcome.dead_reason = "handler_failed"
        outcome.dead_detail = last_error[:1000]

    def _log_dead_letter(self, outcome: Outcome) -> None:
        envelope = outcome.envelope
        message_id: uuid.UUID | None = envelope.id if envelope else None
        if message_id is None and outcome.delivery.message_id:
            try:
                message_id = uuid.UUID(outcome.delivery.message_id)
            except ValueError:
                message_id = None
        info = DeadLetterInfo(
            message_id=message_id,
            type=envelope.type if envelope else _str(outcome.delivery.headers.get("type")),
            consumer=self.queue.name,
            reason_code=outcome.dead_reason or "unknown",
            reason_text=outcome.dead_detail,
        )
        log.warning("dead letter %s on %s: %s", message_id, info.consumer, info.reason_code)
        try:
            with Session(self.engine) as session, session.begin():
                session.add(
                    DeadLetter(
                        message_id=info.message_id,
                        consumer=info.consumer,
                        type=info.type,
                        reason_code=info.reason_code,
                        reason_text=info.reason_text,
                    )
                )
                if self.on_dead_letter is not None:
                    self.on_dead_letter(session, info)
        except Exception:
            log.exception("could not log dead letter %s", message_id)

    def dead_letter_headers(self, outcome: Outcome) -> dict[str, Any]:
        headers = dict(outcome.delivery.headers or {})
        headers.update(
            {
                DEAD_REASON_HEADER: outcome.dead_reason,
                DEAD_DETAIL_HEADER: (outcome.dead_detail or "")[:1000],
                DEAD_QUEUE_HEADER: self.queue.name,
                DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
            }
        )
        return headers

    # running --------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until :meth:`stop`, reconnecting with backoff (the transport's runner)."""
        runner = self._runner = self.transport.runner(self)
        runner.run()

    def stop(self) -> None:
        self.stop_event.set()
        if self._runner is not None:
            self._runner.wake()

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (tests, the single-process embedded mode)."""
        thread = threading.Thread(target=self.run, name=f"consumer-{self.queue.name}", daemon=True)
        thread.start()
        return thread


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
