"""Dead letters: the headers a dead-lettered message carries, and how the operator sees it.

A consumer that cannot let a message take effect publishes it to the dead-letter exchange with
these headers (why, where from, when); ``integra dlq list`` reads them back on either transport
and ``integra dlq replay`` sends the message to its queue again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEAD_REASON_HEADER = "x-integra-dead-reason"
DEAD_DETAIL_HEADER = "x-integra-dead-detail"
DEAD_QUEUE_HEADER = "x-integra-dead-queue"
DEAD_AT_HEADER = "x-integra-dead-at"
REPLAYED_HEADER = "x-integra-replayed"


@dataclass(frozen=True)
class DeadLetterEntry:
    """One message in a dead-letter queue, with why it is there."""

    queue: str  # the dead-letter queue
    consumer_queue: str  # where it came from and where a replay sends it
    message_id: str | None
    type: str | None
    reason: str
    detail: str | None
    dead_at: str | None


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    ready: int
    unacknowledged: int


def entry_from(dead_queue: str, headers: dict[str, Any], props: dict[str, Any]) -> DeadLetterEntry:
    """The entry of a dead letter read from ``dead_queue`` with these headers and properties."""
    reason = headers.get(DEAD_REASON_HEADER)
    if reason is None:  # dead-lettered by the broker itself (delivery limit)
        deaths = headers.get("x-death") or [{}]
        reason = str(deaths[0].get("reason", "unknown"))
    consumer_queue = str(headers.get(DEAD_QUEUE_HEADER) or dead_queue[: -len(".dead")] + ".inbox")
    return DeadLetterEntry(
        queue=dead_queue,
        consumer_queue=consumer_queue,
        message_id=props.get("message_id"),
        type=props.get("type") or headers.get("type"),
        reason=str(reason),
        detail=headers.get(DEAD_DETAIL_HEADER),
        dead_at=headers.get(DEAD_AT_HEADER),
    )


def replay_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers a replayed message carries: the dead-letter marks dropped (it is checked
    again from scratch), its origin kept, and a replay count."""
    dropped = ("x-integra-dead", "x-integra-dlq-seq", "x-death")
    out = {k: v for k, v in headers.items() if not k.startswith(dropped)}
    out[REPLAYED_HEADER] = int(headers.get(REPLAYED_HEADER, 0)) + 1
    if DEAD_QUEUE_HEADER in headers:
        out[DEAD_QUEUE_HEADER] = headers[DEAD_QUEUE_HEADER]
    return out
