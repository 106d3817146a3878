"""Consuming from RabbitMQ (pika SelectConnection) for an inbox consumer.

The ioloop thread only receives, acknowledges and publishes dead letters; a worker thread
handles messages. pika is not thread-safe, so the worker hands its results back through
``add_callback_threadsafe``. Each (re)connection is a new generation: results for deliveries
of a closed channel are dropped, as the broker redelivers those messages anyway.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import pika

from messaging import topology
from messaging.transports.base import Delivery, InboxConsumer, Outcome
from messaging.transports.confirms import ConfirmTracker

log = logging.getLogger(__name__)

#: Links a returned dead letter (mandatory publish) to its confirm.
DLQ_SEQ_HEADER = "x-integra-dlq-seq"


def collect(work: queue.Queue[Any], first: Any, limit: int) -> list[Any]:
    """``first`` and whatever else is already waiting, up to ``limit`` items."""
    batch = [first]
    while len(batch) < limit:
        try:
            batch.append(work.get_nowait())
        except queue.Empty:
            break
    return batch


class PikaRunner:
    def __init__(self, consumer: InboxConsumer) -> None:
        self.consumer = consumer
        self.params = pika.URLParameters(consumer.url)
        self.params.heartbeat = consumer.heartbeat
        self.work: queue.Queue[Delivery] = queue.Queue()
        self.generation = 0
        self.conn: Any = None
        self.channel: Any = None
        #: dead letters published and not yet confirmed: confirm tag -> the original's tag
        self.awaiting_confirm: ConfirmTracker[int] = ConfirmTracker()
        self.returned: set[int] = set()
        self.consumed = False
        self.processing_failed = False

    # ioloop thread ---------------------------------------------------------------------------

    def run(self) -> None:
        worker = threading.Thread(target=self._work, name="consumer-worker", daemon=True)
        worker.start()
        backoff = 0.0
        try:
            while not self.consumer.stop_event.is_set():
                self.consumed = False
                self.processing_failed = False
                self._connect_and_consume()
                if self.consumer.stop_event.is_set():
                    break
                # a connection that worked resets the backoff; failing connects (or a database
                # that keeps failing) double it
                if self.consumed and not self.processing_failed:
                    backoff = 0.1
                else:
                    backoff = min(30.0, max(1.0 if self.processing_failed else 0.1, backoff * 2))
                log.warning("consumer %s: reconnecting in %.1fs", self.consumer.queue.name, backoff)
                self.consumer.stop_event.wait(backoff)
        finally:
            self.consumer.ready.clear()
            worker.join(timeout=10)

    def _connect_and_consume(self) -> None:
        self.generation += 1
        generation = self.generation
        self.awaiting_confirm = ConfirmTracker()
        self.returned = set()
        self._clear_work()

        def on_open(conn: Any) -> None:
            conn.channel(on_open_callback=on_channel)

        def on_channel(channel: Any) -> None:
            self._start_consuming(
                channel, generation, lambda ch, exc: self._close(f"channel closed: {exc!r}")
            )

        def on_open_error(conn: Any, exc: BaseException) -> None:
            log.warning("consumer %s: cannot connect: %r", self.consumer.queue.name, exc)
            conn.ioloop.stop()

        def on_close(conn: Any, exc: BaseException) -> None:
            self.consumer.ready.clear()
            self.channel = None
            conn.ioloop.stop()

        self.conn = pika.SelectConnection(
            self.params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=on_close,
        )
        try:
            self.conn.ioloop.start()
        finally:
            self.generation += 1  # late results of this connection are void
            conn, self.conn = self.conn, None
            conn.ioloop.close()  # releases the ioloop's wake-up socket pair

    def _start_consuming(
        self, channel: Any, generation: int, on_close: Callable[[Any, Any], None]
    ) -> None:
        """On a freshly opened channel: prefetch, publisher confirms, then consume (the same on
        a connection of the consumer's own and on the process's shared one)."""
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(on_close)

        def confirm() -> None:
            channel.confirm_delivery(self._on_confirm, callback=lambda _f: consume())

        def consume() -> None:
            channel.basic_consume(
                self.consumer.queue.name,
                functools.partial(self._on_message, generation),
                callback=lambda _f: self._consuming(),
            )

        channel.basic_qos(prefetch_count=self.consumer.prefetch, callback=lambda _f: confirm())

    def _consuming(self) -> None:
        self.consumed = True
        self.consumer.ready.set()

    def _close(self, reason: str) -> None:
        log.warning("consumer %s: %s", self.consumer.queue.name, reason)
        if self.conn is not None and self.conn.is_open:
            self.conn.close()

    def _clear_work(self) -> None:
        while True:
            try:
                self.work.get_nowait()
            except queue.Empty:
                return

    def _on_message(
        self, generation: int, channel: Any, method: Any, props: Any, body: bytes
    ) -> None:
        headers = dict(props.headers or {})
        headers.setdefault("type", props.type)
        self.work.put(
            Delivery(
                body=body,
                headers=headers,
                message_id=props.message_id,
                redelivered=bool(method.redelivered),
                token=(generation, method.delivery_tag, props),
            )
        )

    def _settle(self, outcomes: list[Outcome]) -> None:
        channel = self.channel
        if channel is None or not channel.is_open:
            return  # the channel is gone; the broker redelivers
        current = [o for o in outcomes if o.delivery.token[0] == self.generation]
        if current and not self.awaiting_confirm and not any(o.dead for o in current):
            # Deliveries come in tag order and every earlier one is settled: one ack for all.
            channel.basic_ack(max(o.delivery.token[1] for o in current), multiple=True)
            return
        for outcome in outcomes:
            generation, tag, props = outcome.delivery.token
            if generation != self.generation or channel is None or not channel.is_open:
                continue  # the channel is gone; the broker redelivers
            if not outcome.dead:
                channel.basic_ack(tag)
                continue
            seq = self.awaiting_confirm.track(tag)
            headers = self.consumer.dead_letter_headers(outcome)
            headers[DLQ_SEQ_HEADER] = seq
            channel.basic_publish(
                topology.DEAD_EXCHANGE,
                self.consumer.queue.name,
                outcome.delivery.body,
                pika.BasicProperties(
                    message_id=props.message_id,
                    correlation_id=props.correlation_id,
                    type=props.type,
                    content_type=props.content_type,
                    delivery_mode=2,
                    headers=headers,
                ),
                mandatory=True,
            )

    def _on_confirm(self, frame: Any) -> None:
        for seq, delivery_tag, acked in self.awaiting_confirm.settle(frame):
            if self.channel is None:
                continue
            if acked and seq not in self.returned:
                self.channel.basic_ack(delivery_tag)  # the DLQ has it: drop the original
            else:  # the dead letter was refused or unroutable: keep the original
                log.error("consumer %s: dead letter not stored", self.consumer.queue.name)
                self.channel.basic_nack(delivery_tag, requeue=True)
            self.returned.discard(seq)

    def _on_return(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        seq = (props.headers or {}).get(DLQ_SEQ_HEADER)
        if isinstance(seq, int):
            self.returned.add(seq)

    def wake(self) -> None:
        conn = self.conn
        if conn is not None:
            try:
                conn.ioloop.add_callback_threadsafe(functools.partial(self._close, "stopping"))
            except Exception:
                log.debug("wake", exc_info=True)

    # worker thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        while not self.consumer.stop_event.is_set():
            try:
                first = self.work.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = collect(self.work, first, self.consumer.prefetch)
            batch = [d for d in batch if d.token[0] == self.generation]
            if not batch:
                continue
            try:
                outcomes = self.consumer.process(batch)
            except Exception:
                log.exception("consumer %s: batch failed", self.consumer.queue.name)
                self.processing_failed = True
                conn = self.conn
                if conn is not None:
                    conn.ioloop.add_callback_threadsafe(
                        functools.partial(self._close, "processing failed")
                    )
                continue
            conn = self.conn
            if conn is not None:
                try:
                    conn.ioloop.add_callback_threadsafe(functools.partial(self._settle, outcomes))
                except Exception:
                    log.debug("settle after close", exc_info=True)
