"""Publishing and consuming on the embedded bus: kombu's SQLAlchemy transport on one SQLite
file per tenant (the relay and the consumer core are the same as on RabbitMQ).

A publish is a committed SQLite insert; routability is checked against the declared topology,
as RabbitMQ's ``mandatory`` flag would. kombu's virtual transport marks a fetched message
invisible and forgets it on ack, and does not restore it when the process is killed. In
embedded mode each queue has exactly one consumer (the single process), so: after a batch is
settled every invisible row of the queue is acknowledged and is deleted; at start every
invisible row was fetched by a process that died before settling it and is made visible again.
A message that had already taken effect is then dropped by the inbox, so pending messages
survive SIGKILL and still take effect once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import text

from messaging import topology, wakeups
from messaging.transports.base import (
    CONTENT_TYPE,
    BusConnectionError,
    Delivery,
    InboxConsumer,
    Outcome,
    OutgoingMessage,
    PublishResult,
    sleep_on,
)
from tenants.registry import Tenant

log = logging.getLogger(__name__)

#: An idle consumer looks at its queue this often; publishers in the same process wake it at
#: once (messaging.wakeups), so this only bounds the delay for publishers in other processes.
IDLE_POLL = 2.0


class KombuPublisher:
    """The embedded bus: each publish is a committed insert into the tenant's SQLite file."""

    def __init__(self, url: str, tenant: Tenant, connect: Callable[[str], Any]) -> None:
        self.url = url
        self.tenant = tenant
        self.connect = connect
        self._conn: Any = None
        self._producer: Any = None
        self._routable = {s.binding_key.removesuffix("#") for s in topology.queues(tenant)}
        self._wake = threading.Event()

    def _ensure(self) -> None:
        if self._conn is None:
            import kombu

            conn = self.connect(self.url)
            try:
                topology.declare_kombu(conn, self.tenant)
            except Exception as exc:
                conn.release()
                raise BusConnectionError(repr(exc)) from exc
            self._conn = conn
            self._producer = kombu.Producer(conn.default_channel)

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishResult:
        result = PublishResult()
        try:
            self._ensure()
        except BusConnectionError as exc:
            result.connection_lost = True
            result.failed = {m.id: str(exc) for m in messages}
            return result
        for msg in messages:
            if msg.exchange == topology.EVENTS_EXCHANGE and not any(
                msg.routing_key.startswith(prefix) for prefix in self._routable
            ):
                result.failed[msg.id] = f"unroutable: no queue bound for {msg.routing_key}"
                continue
            try:
                self._producer.publish(
                    msg.body,
                    exchange=msg.exchange,
                    routing_key=msg.routing_key,
                    headers=msg.headers,
                    content_type=CONTENT_TYPE,
                    content_encoding="binary",
                    delivery_mode=2,
                    message_id=str(msg.id),
                    correlation_id=msg.correlation_id,
                    type=msg.type,
                    retry=False,
                )
            except Exception as exc:
                result.failed[msg.id] = repr(exc)
                result.connection_lost = True
                self.close()
                break
            result.confirmed.add(msg.id)
        for msg in messages:
            if msg.id not in result.confirmed:
                result.failed.setdefault(msg.id, "not published")
        if result.confirmed:
            wakeups.signal(self.url)  # consumers of this bus file in this process look now
        return result

    def idle(
        self, seconds: float, wake_fd: int | None = None, on_wake: Callable[[], None] | None = None
    ) -> None:
        sleep_on(seconds, wake_fd, on_wake, self._wake)

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            conn.release()


def _queue_id(channel: Any, name: str) -> int | None:
    row = channel.session.execute(
        text("SELECT id FROM kombu_queue WHERE name = :name"), {"name": name}
    ).first()
    return int(row[0]) if row else None


def restore_unsettled(channel: Any, queue: str) -> int:
    """Make messages fetched by a dead process visible again (one consumer per queue)."""
    queue_id = _queue_id(channel, queue)
    if queue_id is None:
        return 0
    result = channel.session.execute(
        text("UPDATE kombu_message SET visible = 1 WHERE queue_id = :q AND visible = 0"),
        {"q": queue_id},
    )
    channel.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def purge_settled(channel: Any, queue: str) -> None:
    """Delete the rows of messages this (only) consumer has settled."""
    queue_id = _queue_id(channel, queue)
    if queue_id is None:
        return
    channel.session.execute(
        text("DELETE FROM kombu_message WHERE queue_id = :q AND visible = 0"), {"q": queue_id}
    )
    channel.session.commit()


class KombuRunner:
    """Consumes one queue of the embedded bus in the calling thread."""

    def __init__(self, consumer: InboxConsumer, connect: Callable[[str], Any]) -> None:
        self.consumer = consumer
        self.connect = connect
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        import kombu

        backoff = 0.1
        while not self.consumer.stop_event.is_set():
            try:
                self._consume(kombu)
                backoff = 0.1
            except Exception:
                log.exception("embedded consumer %s failed", self.consumer.queue.name)
                self.consumer.ready.clear()
                self.consumer.stop_event.wait(backoff)
                backoff = min(30.0, backoff * 2)

    def _consume(self, kombu: Any) -> None:
        consumer = self.consumer
        spec = consumer.queue
        conn = self.connect(consumer.url)
        try:
            topology.declare_kombu(conn, consumer.tenant)
            channel = conn.default_channel
            restored = restore_unsettled(channel, spec.name)
            if restored:
                log.warning("embedded consumer %s: restored %d messages", spec.name, restored)
            producer = kombu.Producer(channel)
            buffer: list[Any] = []
            queue = kombu.Queue(
                spec.name,
                kombu.Exchange(topology.EVENTS_EXCHANGE, type="topic", durable=True),
                routing_key=spec.binding_key,
                durable=True,
            )
            with kombu.Consumer(
                channel,
                queues=[queue],
                on_message=buffer.append,
                accept=[CONTENT_TYPE],
                prefetch_count=consumer.prefetch,
            ):
                consumer.ready.set()
                with wakeups.listening(consumer.url, self._wake.set):
                    while not consumer.stop_event.is_set():
                        self._wake.clear()  # before looking: a publish from now on wakes us
                        try:
                            while len(buffer) < consumer.prefetch:
                                conn.drain_events(timeout=0)  # one look, no waiting
                        except TimeoutError:
                            pass
                        if buffer:
                            batch, buffer[:] = list(buffer), []
                            outcomes = consumer.process([_delivery(m) for m in batch])
                            self._settle(producer, outcomes)
                            purge_settled(channel, spec.name)
                            continue
                        self._wake.wait(IDLE_POLL)
        finally:
            consumer.ready.clear()
            conn.release()

    def _settle(self, producer: Any, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            message = outcome.delivery.token
            if outcome.dead:
                props = message.properties
                producer.publish(
                    outcome.delivery.body,
                    exchange=topology.DEAD_EXCHANGE,
                    routing_key=self.consumer.queue.name,
                    headers=self.consumer.dead_letter_headers(outcome),
                    content_type=CONTENT_TYPE,
                    content_encoding="binary",
                    delivery_mode=2,
                    message_id=props.get("message_id"),
                    correlation_id=props.get("correlation_id"),
                    type=props.get("type"),
                    retry=False,
                )
            message.ack()


def _delivery(message: Any) -> Delivery:
    headers = dict(message.headers or {})
    headers.setdefault("type", message.properties.get("type"))
    body = message.body
    return Delivery(
        body=body if isinstance(body, bytes) else str(body).encode(),
        headers=headers,
        message_id=message.properties.get("message_id"),
        redelivered=bool(message.delivery_info.get("redelivered")),
        token=message,
    )
