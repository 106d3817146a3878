"""What every transport offers the bus, and the types that cross between them.

The relay asks a :class:`Publisher` which messages the broker took responsibility for; a
consumer hands a :class:`ConsumerRunner` its core (:class:`InboxConsumer`), and the runner feeds
it :class:`Delivery` objects and settles each according to its :class:`Outcome`. Nothing here
knows pika or kombu.
"""

from __future__ import annotations

import selectors
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from messaging import topology
from messaging.dead_letters import DeadLetterEntry, QueueDepth
from messaging.envelope import Envelope
from tenants.registry import Tenant
from tenants.settings import Settings

CONTENT_TYPE = "application/jose"


class BusConnectionError(Exception):
    """The connection to the broker failed or was lost; reconnect with backoff."""


@dataclass(frozen=True)
class OutgoingMessage:
    id: uuid.UUID
    routing_key: str
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    type: str | None = None
    exchange: str = topology.EVENTS_EXCHANGE


@dataclass
class PublishResult:
    """Confirmed ids, and the reason for each message that was not confirmed."""

    confirmed: set[uuid.UUID] = field(default_factory=set)
    failed: dict[uuid.UUID, str] = field(default_factory=dict)
    connection_lost: bool = False


class Publisher(Protocol):
    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishResult: ...

    def idle(self, seconds: float, wake_fd: int | None = None, on_wake: Any = None) -> None: ...

    def wake(self) -> None:
        """End a running :meth:`idle` early; callable from any thread."""

    def close(self) -> None: ...


@dataclass
class Delivery:
    """A received message, independent of the transport; ``token`` settles it."""

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    redelivered: bool = False
    token: Any = None


@dataclass
class Outcome:
    delivery: Delivery
    envelope: Envelope | None = None
    dead_reason: str | None = None
    dead_detail: str | None = None
    duplicate: bool = False

    @property
    def dead(self) -> bool:
        return self.dead_reason is not None


class InboxConsumer(Protocol):
    """What a runner drives: the transport-independent core of a consumer
    (:class:`messaging.consumer.MessageConsumer`)."""

    tenant: Tenant
    queue: topology.QueueSpec
    url: str
    prefetch: int
    heartbeat: int
    stop_event: threading.Event
    ready: threading.Event

    def process(self, deliveries: Sequence[Delivery]) -> list[Outcome]: ...

    def dead_letter_headers(self, outcome: Outcome) -> dict[str, Any]: ...


class ConsumerRunner(Protocol):
    def run(self) -> None:
        """Consume until the consumer's stop event is set, reconnecting with backoff."""

    def wake(self) -> None:
        """Make :meth:`run` notice the stop event at once (from any thread)."""


class Transport(Protocol):
    """A bus transport: where a tenant's parties connect, and everything done on it."""

    settings: Settings
    name: str  # "rabbitmq" | "embedded"
    #: Whether a kombu client declares the queues it uses when it connects (the embedded bus
    #: keeps exchanges and bindings per process; on RabbitMQ the broker keeps them and a
    #: service or agency user may not declare anything).
    clients_declare: bool
    #: How often a client polling a queue (the AMQP agency channel) looks when idle.
    poll_interval: float

    def url(self, tenant: Tenant, party: str | None = None, *, admin: bool = False) -> str:
        """Where ``party`` of ``tenant`` connects (``admin``: the operator's credentials)."""
        ...

    def publisher(self, tenant: Tenant, url: str, *, window: int = 500) -> Publisher: ...

    def runner(self, consumer: InboxConsumer) -> ConsumerRunner: ...

    def kombu_connection(self, url: str) -> Any:
        """A kombu connection to ``url`` (the AMQP agency channel and its simulators)."""
        ...

    def provision(self, tenant: Tenant) -> None:
        """Create or update the tenant's bus (idempotent)."""
        ...

    def deprovision(self, tenant: Tenant, extra_users: Iterable[str] = ()) -> None: ...

    def dead_letters(self, tenant: Tenant) -> list[DeadLetterEntry]: ...

    def replay(self, tenant: Tenant, message_id: object = None) -> int: ...

    def queue_depths(self, tenant: Tenant, names: Sequence[str]) -> list[QueueDepth]: ...


def sleep_on(
    seconds: float,
    wake_fd: int | None,
    on_wake: Callable[[], None] | None,
    wake: threading.Event,
) -> None:
    """Sleep until ``seconds`` pass, ``wake_fd`` is readable or ``wake`` is set."""
    if wake_fd is None:
        wake.wait(seconds)
        wake.clear()
        return
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as sel:
        sel.register(wake_fd, selectors.EVENT_READ)
        while not wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if sel.select(min(remaining, 0.1)):
                if on_wake is not None:
                    on_wake()
                break
    wake.clear()
