"""The embedded bus: kombu's SQLAlchemy transport on one SQLite file per tenant.

Used when no broker is configured, so ``integra up`` needs no RabbitMQ. The relay and the
consumer core are the same as on RabbitMQ; only the transport calls differ (see
:class:`messaging.transport.KombuPublisher` and :class:`KombuRunner` here).

kombu's virtual transport marks a fetched message invisible and forgets it on ack, and does not
restore it when the process is killed. In embedded mode each queue has exactly one consumer (the
single process), so: after a batch is settled every invisible row of the queue is acknowledged
and is deleted; at start every invisible row was fetched by a process that died before settling
it and is made visible again. A message that had already taken effect is then dropped by the
inbox, so pending messages survive SIGKILL and still take effect once.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SADeprecationWarning

from messaging import topology, wakeups
from messaging.consumer import Delivery, Outcome, _Runner
from messaging.transport import CONTENT_TYPE

if TYPE_CHECKING:
    from messaging.consumer import MessageConsumer

log = logging.getLogger(__name__)

POLLING_INTERVAL = 1.0  # kombu's own wait between polls, where it is asked to block
#: An idle consumer looks at its queue this often; publishers in the same process wake it at
#: once (messaging.wakeups), so this only bounds the delay for publishers in other processes.
IDLE_POLL = 2.0


def open_connection(url: str) -> Any:
    """A kombu connection to the embedded bus, its table mappings configured quietly.

    kombu's models use ``lazy="noload"``, which SQLAlchemy 2.1 deprecates; the warning is
    about kombu's code, not ours, so it is silenced once while the mappers are configured.
    """
    import kombu
    from sqlalchemy.orm import configure_mappers

    # Several services of a tenant share its bus file: wait for SQLite's write lock instead of
    # failing with "database is locked" (the options go to kombu's create_engine).
    conn = kombu.Connection(url, transport_options={"connect_args": {"timeout": 30}})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SADeprecationWarning)
        channel: Any = conn.default_channel
        channel.queue_cls, channel.message_cls  # noqa: B018 - defines the kombu models
        configure_mappers()
    conn.transport.polling_interval = POLLING_INTERVAL
    return conn


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


class KombuRunner(_Runner):
    """Consumes one queue of the embedded bus in the calling thread."""

    def __init__(self, consumer: MessageConsumer) -> None:
        self.consumer = consumer
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
        conn = open_connection(consumer.url)
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
