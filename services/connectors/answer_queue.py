"""An AMQP agency's answer queue, pushed over the process's shared RabbitMQ connection.

On RabbitMQ the connector does not poll its agency's answer queue: the shared runtime consumes
it like an inbox (``messaging.runtime.BusRuntime.add_consumer``) and hands each batch to
:class:`AnswerQueueConsumer`, which takes the answers in through the connector's intake (the
same path as a pulled or a webhook answer) and is settled after that: acknowledged once the
answer took effect or was refused with a return-to-sender; a database outage leaves the batch
unacknowledged, and the broker delivers it again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from messaging.transports.base import Delivery, Outcome
from tenants.registry import Tenant

from .channels.amqp import AmqpChannel, parse_answer
from .connector import Connector


@dataclass(frozen=True)
class _Queue:
    name: str


class AnswerQueueConsumer:
    """Implements ``messaging.transports.base.InboxConsumer`` for the answer queue of
    ``channel`` (its own channel instance: return-to-sender notices go out through it)."""

    def __init__(self, tenant: Tenant, connector: Connector, channel: AmqpChannel) -> None:
        self.tenant = tenant
        self.party = connector.kind
        self.connector = connector
        self.channel = channel
        self.queue = _Queue(channel.pair.answers)
        self.url = channel.url
        self.prefetch = 50
        self.heartbeat = 30
        self.stop_event = threading.Event()
        self.ready = threading.Event()

    def process(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes = []
        try:
            for delivery in deliveries:
                try:
                    answer = parse_answer(delivery.body, delivery.message_id)
                except ValueError as exc:
                    self.channel._return_to_sender(None, "malformed", str(exc))
                    outcomes.append(Outcome(delivery))
                    continue
                result = self.connector.intake(answer)
                if result.outcome == "refused":
                    self.channel._return_to_sender(
                        answer.message_id,
                        result.reason_code or "refused",
                        result.reason_text or "",
                        answer.type,
                    )
                outcomes.append(Outcome(delivery))
        finally:
            self.channel.close()  # no connection held between batches
        return outcomes

    def dead_letter_headers(self, outcome: Outcome) -> dict[str, Any]:
        return dict(outcome.delivery.headers or {})
