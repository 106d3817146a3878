"""Consuming the embedded bus as a job of the shared work pool: one pass takes what waits in a
tenant's queue (up to the prefetch count), lets the consumer core decide, settles, and closes
the bus file again. No thread, no open file and no poll per idle tenant: a publish in this
process wakes the job (``messaging.wakeups``), the process's one bus-file watcher wakes it for
publishers in other processes (``messaging.runtime``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from messaging import topology
from messaging.transports.base import InboxConsumer
from messaging.transports.kombu_bus import (
    KombuRunner,
    _delivery,
    purge_settled,
    restore_unsettled,
)

log = logging.getLogger(__name__)


class EmbeddedConsumerPass(KombuRunner):
    """One queue of the embedded bus, consumed in passes (:meth:`run_pass` is the job)."""

    def __init__(self, consumer: InboxConsumer, connect: Callable[[str], Any]) -> None:
        super().__init__(consumer, connect)
        self._restored = False

    def run_pass(self) -> float | None:
        """Take and settle one batch; 0 when the batch was full (run again at once)."""
        import kombu

        consumer = self.consumer
        spec = consumer.queue
        conn = self.connect(consumer.url)
        try:
            channel = conn.default_channel
            if not self._restored:
                # this process is the queue's only consumer: what a dead one fetched returns
                restored = restore_unsettled(channel, spec.name)
                if restored:
                    log.warning("embedded consumer %s: restored %d messages", spec.name, restored)
                self._restored = True
            batch: list[Any] = []
            while len(batch) < consumer.prefetch:
                message = channel.basic_get(spec.name, no_ack=False)
                if message is None:
                    break
                batch.append(message)
            consumer.ready.set()
            if not batch:
                return None
            outcomes = consumer.process([_delivery(m) for m in batch])
            if any(o.dead for o in outcomes):
                topology.declare_kombu(conn, consumer.tenant)  # the dead-letter exchange
            self._settle(kombu.Producer(channel), outcomes)
            purge_settled(channel, spec.name)
            return 0.0 if len(batch) >= consumer.prefetch else None
        finally:
            conn.release()
