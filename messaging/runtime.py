"""The bus work of every tenant of a process, on one shared pool (``messaging.scheduler``).

A :class:`BusRuntime` owns the process's :class:`~messaging.scheduler.WorkPool`, its one
outbox sweeper, its one watcher of files other processes write (embedded bus files, XML
exchange folders) and, on RabbitMQ, its one ioloop thread consuming every queue. Services add
their jobs per tenant (relays, consumers, connector passes, simulators); nothing here starts a
thread, a timer or a connection per tenant, so an idle tenant costs a few dictionary entries.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from messaging import wakeups
from messaging.outbox import relay_key
from messaging.relay import OutboxRelay
from messaging.scheduler import Job, WorkPool
from messaging.sweeper import OutboxSweeper
from messaging.transports.base import InboxConsumer, Transport

log = logging.getLogger(__name__)

Key = Hashable
SWEEP = ("*", "outbox-sweep")
WATCH = ("*", "file-watch")
NUDGE = ("*", "slow-sweep")
#: Jobs added with ``nudge=True`` run at least this often (e.g. connectors' status queries
#: of referrals an agency has gone quiet on: days, not seconds, matter there).
NUDGE_INTERVAL = 600.0
#: How often the sweeper looks for outbox rows no commit hook published.
SWEEP_INTERVAL = {"postgresql": 5.0, "sqlite": 2.0}
#: How often the watcher looks at files other processes write (one stat per file).
WATCH_INTERVAL = 1.0


def _stamp(path: str) -> tuple[int, ...]:
    stamp: list[int] = []
    for suffix in ("", "-wal"):
        try:
            st = os.stat(path + suffix)
            stamp += [st.st_mtime_ns, st.st_size]
        except OSError:
            stamp += [0, 0]
    return tuple(stamp)


def worker_consumer_url(transport: Transport) -> Callable[[InboxConsumer], str]:
    """Where the runtime reads a consumer's queue on RabbitMQ: as the platform's worker user
    of the consumer's role where the transport has those (one connection for every tenant on
    the shared vhost), else as the consumer's own user."""
    worker_url = getattr(transport, "worker_url", None)
    if worker_url is None:
        return lambda consumer: consumer.url

    def url(consumer: InboxConsumer) -> str:
        party = getattr(consumer, "party", "")
        return str(worker_url("agreements" if party == "agreements" else "connectors"))

    return url


class BusRuntime:
    """Relays, consumers and other per-tenant jobs of one process on shared workers."""

    def __init__(
        self,
        transport: Transport,
        *,
        threads: int | None = None,
        sweep_interval: float | None = None,
        consumer_url: Callable[[InboxConsumer], str] | None = None,
    ) -> None:
        """``consumer_url``: where a consumer's queue is read on RabbitMQ (default: its own
        URL); consumers with the same URL share one connection."""
        self.transport = transport
        self.pool = WorkPool(threads or transport.settings.worker_threads)
        self.sweeper = OutboxSweeper()
        self.sweep_interval = sweep_interval
        self.consumer_url = consumer_url or worker_consumer_url(transport)
        self._lock = threading.Lock()
        self._signals: dict[Key, list[tuple[str, Callable[[], None]]]] = {}
        self._watched: dict[str, tuple[tuple[int, ...], set[Key], float]] = {}
        self._amqp: Any = None
        self._nudged: set[Key] = set()
        self._relays: dict[Key, OutboxRelay] = {}
        self._sweep_engine_kind = "sqlite"
        self.pool.register(SWEEP, self._sweep)
        self.pool.register(WATCH, self._watch)
        self.pool.register(NUDGE, self._nudge)

    # life cycle ----------------------------------------------------------------------------

    def start(self) -> BusRuntime:
        self.pool.start()
        self.pool.submit(SWEEP)
        self.pool.submit(WATCH)
        self.pool.call_later(NUDGE_INTERVAL, NUDGE)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._amqp is not None:
            self._amqp.stop(timeout)
            self._amqp = None
        self.pool.stop(timeout)
        for key in list(self._signals):
            self.remove(key)
        for relay in self._relays.values():
            relay.publisher.close()  # the pool is stopped: no pass uses it any more
        self._relays.clear()

    # adding work -----------------------------------------------------------------------------

    def add_job(
        self,
        key: Key,
        job: Job,
        *,
        signals: Iterable[str] = (),
        watch: Iterable[tuple[str, float]] = (),
        start: bool = True,
        nudge: bool = False,
    ) -> None:
        """Run ``job`` as ``key``: whenever one of ``signals`` is signalled in this process
        (``messaging.wakeups``), when a watched path changes (``(path, recheck)``: and again
        ``recheck`` seconds later, if positive), when it asks for a delay, and once now."""
        self.pool.register(key, job)
        hooks = []
        for name in signals:
            wake = self.waker(key)
            wakeups.add(name, wake)
            hooks.append((name, wake))
        with self._lock:
            self._signals.setdefault(key, []).extend(hooks)
            for path, recheck in watch:
                stamp, keys, _ = self._watched.get(path, (_stamp(path), set(), recheck))
                keys.add(key)
                self._watched[path] = (stamp, keys, recheck)
        if start:
            self.pool.submit(key)

    def waker(self, key: Key) -> Callable[[], None]:
        """A function that runs ``key``'s job soon (for hooks of the services)."""

        def wake() -> None:
            self.pool.submit(key)

        return wake

    def add_relay(self, key: Key, relay: OutboxRelay, *, start: bool = True) -> None:
        """The relay's pass runs after every commit that appends to its outbox in this
        process, and when the sweeper finds rows waiting (``start``: and once now)."""
        if relay.engine.dialect.name == "postgresql":
            self._sweep_engine_kind = "postgresql"
        self.sweeper.add(key, relay.engine)
        self._relays[key] = relay
        self.add_job(key, relay.run_pass, signals=[relay_key(relay.engine)], start=start)

    def add_consumer(self, key: Key, consumer: InboxConsumer) -> None:
        """The consumer's queue: on the embedded bus a pass per wake-up (a publish in this
        process, a change of the bus file), on RabbitMQ deliveries over the shared
        connection."""
        if self.transport.name == "embedded":
            from messaging.transports.embedded import open_connection
            from messaging.transports.embedded_pass import EmbeddedConsumerPass

            runner = EmbeddedConsumerPass(consumer, open_connection)
            path = consumer.url.split(":///", 1)[1]
            self.add_job(key, runner.run_pass, signals=[consumer.url], watch=[(path, 0.0)])
            return
        if self._amqp is None:
            from messaging.transports.pika_shared import SharedPikaConsumers

            self._amqp = SharedPikaConsumers(self.pool.submit)
            self._amqp.start()
        subscription = self._amqp.add(key, consumer, self.consumer_url(consumer))
        self.add_job(key, subscription.run_pass, start=False)

    def remove(self, key: Key) -> None:
        self.pool.unregister(key)
        self.sweeper.remove(key)
        with self._lock:
            self._nudged.discard(key)
            hooks = self._signals.pop(key, [])
            for path, watched in list(self._watched.items()):
                keys = watched[1]
                keys.discard(key)
                if not keys:
                    del self._watched[path]
        for name, wake in hooks:
            wakeups.remove(name, wake)

    # the shared jobs -------------------------------------------------------------------------

    def _sweep(self) -> float:
        for key in self.sweeper.pending():
            self.pool.submit(key)
        if self.sweep_interval is not None:
            return self.sweep_interval
        return SWEEP_INTERVAL[self._sweep_engine_kind]

    def _nudge(self) -> float:
        with self._lock:
            keys = list(self._nudged)
        for key in keys:
            self.pool.submit(key)
        return NUDGE_INTERVAL

    def _watch(self) -> float:
        with self._lock:
            watched = list(self._watched.items())
        for path, (stamp, keys, recheck) in watched:
            now = _stamp(path)
            if now == stamp:
                continue
            with self._lock:
                if path in self._watched:
                    self._watched[path] = (now, keys, recheck)
            for key in list(keys):
                self.pool.submit(key)
                if recheck > 0:
                    self.pool.call_later(recheck, key)
        return WATCH_INTERVAL

    # looking in (tests, figures) -------------------------------------------------------------

    def broker_connections(self) -> int:
        return 0 if self._amqp is None else int(self._amqp.connections())

    def threads(self) -> int:
        return self.pool.threads() + (1 if self._amqp is not None else 0)
