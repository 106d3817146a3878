"""The bus's metrics: messages published, consumed and dead-lettered, by tenant and type.

Created on first use, once per process; under ``PROMETHEUS_MULTIPROC_DIR`` they go to the
shared folder and ``/metrics`` adds up every process (``gateway.metrics``). The label values
are bounded: tenants from the registry, types from the declared contracts (anything else
counts as ``unknown``), reasons from the consumer's fixed codes.
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter

from messaging.contracts import MESSAGE_TYPES

UNKNOWN = "unknown"


class BusMetrics:
    def __init__(self) -> None:
        self.published = Counter(
            "integra_messages_published",
            "Messages the outbox relays published and the broker confirmed",
            ["tenant", "type"],
        )
        self.consumed = Counter(
            "integra_messages_consumed",
            "Messages consumers took in (outcome: effect, or duplicate dropped by the inbox)",
            ["tenant", "type", "outcome"],
        )
        self.dead_lettered = Counter(
            "integra_messages_dead_lettered",
            "Messages consumers sent to the dead-letter queue, by reason",
            ["tenant", "type", "reason"],
        )


@cache
def bus_metrics() -> BusMetrics:
    return BusMetrics()


def type_label(message_type: str | None) -> str:
    """The type as a label value: a declared type, else ``unknown`` (a forged header must
    not create new series)."""
    return message_type if message_type in MESSAGE_TYPES else UNKNOWN
