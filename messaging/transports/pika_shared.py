"""Consuming RabbitMQ for every tenant of a process: one ioloop thread, one connection per
broker identity (one in all on the shared vhost with a worker user), a channel per queue.

A delivery lands in its subscription's buffer and wakes the subscription's job on the shared
work pool; the job lets the consumer core decide a batch and hands the results back to the
ioloop thread (pika is not thread-safe: ``add_callback_threadsafe``), which acknowledges or
dead-letters exactly as :class:`~messaging.transports.pika_runner.PikaRunner` does (this reuses
its settling). A lost connection bumps every subscription's generation (late results are void,
the broker redelivers) and is reopened with backoff; a subscription whose batch failed on the
database closes its channel only and reopens it after a pause.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.select_connection import IOLoop

from messaging.transports.base import InboxConsumer
from messaging.transports.confirms import ConfirmTracker
from messaging.transports.pika_runner import PikaRunner, collect

log = logging.getLogger(__name__)


class Subscription(PikaRunner):
    """One consumer's queue on a shared connection; :meth:`run_pass` is its pool job."""

    def __init__(self, consumer: InboxConsumer, wake: Callable[[], None], owner: _Connection):
        super().__init__(consumer)
        self.wake_job = wake
        self.owner = owner
        self.reopen_delay = 0.0

    # ioloop thread --------------------------------------------------------------------------

    def open(self, connection: Any) -> None:
        self.generation += 1
        generation = self.generation
        self.awaiting_confirm = ConfirmTracker()
        self.returned = set()
        self._clear_work()

        connection.channel(
            on_open_callback=lambda ch: self._start_consuming(ch, generation, self._channel_closed)
        )

    def _consuming(self) -> None:
        self.reopen_delay = 0.0
        super()._consuming()

    def _channel_closed(self, _channel: Any, exc: BaseException) -> None:
        self.channel = None
        self.generation += 1
        self.consumer.ready.clear()
        if self.consumer.stop_event.is_set() or not self.owner.is_open():
            return  # stopping, or the connection's own reconnect reopens it
        self.reopen_delay = min(30.0, max(1.0, self.reopen_delay * 2))
        log.warning(
            "consumer %s: channel closed (%r); reopening in %.1fs",
            self.consumer.queue.name, exc, self.reopen_delay,
        )  # fmt: skip
        self.owner.reopen_later(self, self.reopen_delay)

    def _on_message(
        self, generation: int, channel: Any, method: Any, props: Any, body: bytes
    ) -> None:
        super()._on_message(generation, channel, method, props, body)
        self.wake_job()

    def _close(self, reason: str) -> None:
        """Close this subscription's channel only (the connection serves the others)."""
        log.warning("consumer %s: %s", self.consumer.queue.name, reason)
        channel = self.channel
        if channel is not None and channel.is_open:
            channel.close()

    # pool thread ----------------------------------------------------------------------------

    def run_pass(self) -> float | None:
        try:
            first = self.work.get_nowait()
        except queue.Empty:
            return None
        batch = [d for d in collect(self.work, first, self.consumer.prefetch)
                 if d.token[0] == self.generation]  # fmt: skip
        if batch:
            try:
                outcomes = self.consumer.process(batch)
            except Exception:
                log.exception("consumer %s: batch failed", self.consumer.queue.name)
                self.owner.call(functools.partial(self._close, "processing failed"))
                return None
            self.owner.call(functools.partial(self._settle, outcomes))
        return 0.0 if not self.work.empty() else None


class _Connection:
    """One broker connection on the shared ioloop and the subscriptions it carries."""

    def __init__(self, shared: SharedPikaConsumers, url: str) -> None:
        self.shared = shared
        self.url = url
        self.subscriptions: list[Subscription] = []
        self.connection: Any = None
        self.backoff = 0.0

    def is_open(self) -> bool:
        return self.connection is not None and self.connection.is_open

    def call(self, callback: Callable[[], None]) -> None:
        try:
            self.shared.ioloop.add_callback_threadsafe(callback)
        except Exception:
            log.debug("ioloop closed", exc_info=True)

    def connect(self) -> None:
        params = pika.URLParameters(self.url)
        params.heartbeat = 30
        self.connection = pika.SelectConnection(
            params,
            on_open_callback=self._opened,
            on_open_error_callback=lambda _c, exc: self._lost(f"cannot connect: {exc!r}"),
            on_close_callback=lambda _c, exc: self._lost(f"closed: {exc!r}"),
            custom_ioloop=self.shared.ioloop,
        )

    def _opened(self, connection: Any) -> None:
        self.backoff = 0.0
        for subscription in self.subscriptions:
            subscription.open(connection)

    def _lost(self, reason: str) -> None:
        self.connection = None
        for subscription in self.subscriptions:
            subscription.generation += 1  # late results of this connection are void
            subscription.channel = None
            subscription.consumer.ready.clear()
        if self.shared.stopping or not self.subscriptions:
            self.shared.closed()
            return
        self.backoff = min(30.0, max(0.1, self.backoff * 2))
        log.warning("shared consumer connection %s; reconnecting in %.1fs", reason, self.backoff)
        self.shared.ioloop.call_later(self.backoff, self.connect)

    def add(self, subscription: Subscription) -> None:
        self.subscriptions.append(subscription)
        if self.is_open():
            subscription.open(self.connection)
        elif self.connection is None:
            self.connect()

    def reopen_later(self, subscription: Subscription, delay: float) -> None:
        def reopen() -> None:
            if subscription in self.subscriptions and self.is_open():
                subscription.open(self.connection)

        self.shared.ioloop.call_later(delay, reopen)


class SharedPikaConsumers:
    """Every RabbitMQ consumer of the process on one ioloop thread."""

    def __init__(self, submit: Callable[[Any], None]) -> None:
        self.submit = submit
        self.ioloop = IOLoop()
        self.stopping = False
        self._connections: dict[str, _Connection] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.ioloop.start, name="integra-amqp", daemon=True
            )
            self._thread.start()

    def add(self, key: Any, consumer: InboxConsumer, url: str) -> Subscription:
        """Consume ``consumer``'s queue over the connection of ``url``; deliveries wake
        ``key`` on the pool, whose job must be the returned subscription's ``run_pass``."""
        connection = self._connections.get(url)
        if connection is None:
            connection = self._connections[url] = _Connection(self, url)
        subscription = Subscription(consumer, functools.partial(self.submit, key), connection)
        connection.call(functools.partial(connection.add, subscription))
        return subscription

    def closed(self) -> None:
        """A connection closed: while stopping, end the loop once none is left."""
        if self.stopping and not any(c.connection is not None for c in self._connections.values()):
            self.ioloop.stop()

    def connections(self) -> int:
        return sum(1 for c in self._connections.values() if c.is_open())

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping = True

        def close_all() -> None:
            open_ones = [c.connection for c in self._connections.values() if c.is_open()]
            for connection in open_ones:
                connection.close()  # each stops the loop through closed() once all are
            self.ioloop.call_later(5.0 if open_ones else 0, self.ioloop.stop)

        try:
            self.ioloop.add_callback_threadsafe(close_all)
        except Exception:
            log.debug("ioloop already closed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.ioloop.close()
