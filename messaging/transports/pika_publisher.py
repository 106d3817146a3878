"""Publishing to RabbitMQ with windowed asynchronous publisher confirms (pika SelectConnection).

The relay asks which of a batch of signed messages the broker took responsibility for; only
those are marked sent. ``mandatory`` publishing turns an unroutable message into an error
instead of a silent drop (an unroutable message is otherwise still confirmed).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from messaging.transports.base import (
    CONTENT_TYPE,
    BusConnectionError,
    OutgoingMessage,
    PublishResult,
    sleep_on,
)
from messaging.transports.confirms import ConfirmTracker

log = logging.getLogger(__name__)


class PikaPublisher:
    """Windowed asynchronous confirms on a SelectConnection, driven from the calling thread.

    The ioloop runs only inside :meth:`publish` and :meth:`idle`; the relay spends its waiting
    time in :meth:`idle`, so heartbeats are answered and a LISTEN socket can wake it.
    """

    def __init__(
        self, url: str, *, window: int = 500, confirm_timeout: float = 30.0, heartbeat: int = 30
    ) -> None:
        import pika

        self._pika = pika
        self._params = pika.URLParameters(url)
        self._params.heartbeat = heartbeat
        self._params.blocked_connection_timeout = confirm_timeout
        self.window = window
        self.confirm_timeout = confirm_timeout
        self._conn: Any = None
        self._channel: Any = None
        self._error: str | None = None
        self._state: _BatchState | None = None
        self._wake = threading.Event()
        self._idle_loop: Any = None
        self._confirms: ConfirmTracker[uuid.UUID] = ConfirmTracker()

    # connection lifecycle -------------------------------------------------------------------

    def _connect(self) -> None:
        pika = self._pika
        self._error = None
        self._channel = None

        def on_open(conn: Any) -> None:
            conn.channel(on_open_callback=on_channel)

        def on_channel(channel: Any) -> None:
            self._channel = channel
            channel.add_on_return_callback(self._on_return)
            channel.add_on_close_callback(self._on_channel_closed)
            channel.confirm_delivery(self._on_confirm, callback=lambda _f: conn_ready())

        def conn_ready() -> None:
            self._conn.ioloop.stop()

        def on_open_error(conn: Any, exc: BaseException) -> None:
            self._error = f"cannot connect: {exc!r}"
            conn.ioloop.stop()

        def on_close(conn: Any, exc: BaseException) -> None:
            self._error = f"connection closed: {exc!r}"
            self._channel = None
            conn.ioloop.stop()  # a SelectConnection does not stop its ioloop on close

        self._conn = pika.SelectConnection(
            self._params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=on_close,
        )
        timer = self._conn.ioloop.call_later(self.confirm_timeout, self._conn.ioloop.stop)
        self._conn.ioloop.start()
        self._conn.ioloop.remove_timeout(timer)
        if self._channel is None or self._error:
            error = self._error or "timed out opening the channel"
            self._abandon()
            raise BusConnectionError(error)
        self._confirms = ConfirmTracker()

    def _abandon(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is None:
            return
        try:
            if conn.is_open:
                conn.close()
                conn.ioloop.start()  # runs until on_close stops it
        except Exception:
            log.debug("ignoring error while closing", exc_info=True)
        finally:
            conn.ioloop.close()  # releases the ioloop's wake-up socket pair

    def _ensure(self) -> None:
        if self._conn is None or self._channel is None or not self._channel.is_open:
            self._abandon()
            self._connect()

    def close(self) -> None:
        self._abandon()

    # callbacks ------------------------------------------------------------------------------

    def _on_channel_closed(self, channel: Any, exc: BaseException) -> None:
        self._error = f"channel closed: {exc!r}"
        self._channel = None
        if self._conn is not None and self._conn.is_open:
            self._conn.close()

    def _on_return(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        state = self._state
        if state is None or not props.message_id:
            return
        state.returned[uuid.UUID(props.message_id)] = (
            f"returned by broker: {method.reply_code} {method.reply_text} ({method.routing_key})"
        )

    def _on_confirm(self, frame: Any) -> None:
        state = self._state
        if state is None:
            return
        for _tag, msg_id, ack in self._confirms.settle(frame):
            if not ack:
                state.result.failed[msg_id] = "nacked by broker"
            elif msg_id in state.returned:
                state.result.failed[msg_id] = state.returned.pop(msg_id)
            else:
                state.result.confirmed.add(msg_id)
        self._pump()

    # publishing -----------------------------------------------------------------------------

    def _pump(self) -> None:
        state = self._state
        assert state is not None
        channel = self._channel
        while channel is not None and state.pending and len(self._confirms) < self.window:
            msg = state.pending.pop(0)
            props = self._pika.BasicProperties(
                message_id=str(msg.id),
                correlation_id=msg.correlation_id,
                type=msg.type,
                content_type=CONTENT_TYPE,
                delivery_mode=2,
                timestamp=int(time.time()),
                headers=msg.headers,
            )
            channel.basic_publish(msg.exchange, msg.routing_key, msg.body, props, mandatory=True)
            self._confirms.track(msg.id)
        if not state.pending and not self._confirms:
            self._conn.ioloop.stop()

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishResult:
        result = PublishResult()
        if not messages:
            return result
        try:
            self._ensure()
        except BusConnectionError as exc:
            result.connection_lost = True
            result.failed = {m.id: str(exc) for m in messages}
            return result
        self._state = _BatchState(pending=list(messages), result=result)
        ioloop = self._conn.ioloop
        timer = ioloop.call_later(self.confirm_timeout, ioloop.stop)
        try:
            ioloop.add_callback_threadsafe(self._pump)
            ioloop.start()
        finally:
            self._state = None
            if self._conn is not None:
                self._conn.ioloop.remove_timeout(timer)
        unconfirmed = [m.id for m in messages if m.id not in result.confirmed]
        lost = self._channel is None or self._error is not None
        for msg_id in unconfirmed:
            result.failed.setdefault(
                msg_id, self._error or f"no confirm within {self.confirm_timeout}s"
            )
        if lost or self._confirms:
            result.connection_lost = True
            self._abandon()
        return result

    def idle(
        self, seconds: float, wake_fd: int | None = None, on_wake: Callable[[], None] | None = None
    ) -> None:
        """Wait up to ``seconds`` serving heartbeats; return early when ``wake_fd`` is readable."""
        if self._wake.is_set():
            self._wake.clear()
            return
        if self._conn is None or self._channel is None:
            sleep_on(seconds, wake_fd, on_wake, self._wake)
            return
        ioloop = self._conn.ioloop
        self._idle_loop = ioloop
        timer = ioloop.call_later(seconds, ioloop.stop)

        def woken(_fd: int, _events: int) -> None:
            if on_wake is not None:
                on_wake()
            ioloop.stop()

        if wake_fd is not None:
            ioloop.add_handler(wake_fd, woken, ioloop.READ)
        try:
            ioloop.start()
        finally:
            if self._conn is not None:
                self._conn.ioloop.remove_timeout(timer)
                if wake_fd is not None:
                    self._conn.ioloop.remove_handler(wake_fd)
            self._idle_loop = None
        self._wake.clear()
        if self._channel is None:
            self._abandon()

    def wake(self) -> None:
        self._wake.set()
        loop = self._idle_loop
        if loop is not None:
            try:
                loop.add_callback_threadsafe(loop.stop)
            except Exception:
                log.debug("wake after close", exc_info=True)


@dataclass
class _BatchState:
    pending: list[OutgoingMessage]
    result: PublishResult
    returned: dict[uuid.UUID, str] = field(default_factory=dict)
