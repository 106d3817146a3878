"""Operator views of a tenant's bus: dead-letter queues and lag (``integra dlq``, ``status``).

They run with the operator's (admin) credentials, never a service user's. On RabbitMQ the
dead-letter queues are read without removing anything: messages are fetched unacknowledged and
return to the queue when the channel closes. On the embedded bus the same information is read
from kombu's tables.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from messaging import topology
from messaging.consumer import DEAD_AT_HEADER, DEAD_DETAIL_HEADER, DEAD_REASON_HEADER
from messaging.store import OutboxMessage
from messaging.transport import CONTENT_TYPE

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


@dataclass(frozen=True)
class BusStatus:
    tenant: str
    outbox_pending: int
    outbox_failing: int  # pending rows that failed at least once (see last_error)
    outbox_lag_seconds: float  # age of the oldest pending row; 0 when none
    queues: tuple[QueueDepth, ...]


def _entry(dead_queue: str, headers: dict[str, Any], props: dict[str, Any]) -> DeadLetterEntry:
    reason = headers.get(DEAD_REASON_HEADER)
    if reason is None:  # dead-lettered by the broker itself (delivery limit)
        deaths = headers.get("x-death") or [{}]
        reason = str(deaths[0].get("reason", "unknown"))
    consumer_queue = str(
        headers.get("x-integra-dead-queue") or dead_queue[: -len(".dead")] + ".inbox"
    )
    return DeadLetterEntry(
        queue=dead_queue,
        consumer_queue=consumer_queue,
        message_id=props.get("message_id"),
        type=props.get("type") or headers.get("type"),
        reason=str(reason),
        detail=headers.get(DEAD_DETAIL_HEADER),
        dead_at=headers.get(DEAD_AT_HEADER),
    )


# --- RabbitMQ ------------------------------------------------------------------------------------


@contextmanager
def _admin_channel(settings: Any, tenant: topology.TenantLike) -> Iterator[Any]:
    import pika

    conn = pika.BlockingConnection(
        pika.URLParameters(topology.broker_url(settings, tenant, admin=True))
    )
    try:
        yield conn.channel()
    finally:
        if conn.is_open:
            conn.close()


def _peek(channel: Any, queue: str) -> list[tuple[Any, Any, bytes]]:
    """Fetch everything unacknowledged; closing the channel puts it all back."""
    out: list[tuple[Any, Any, bytes]] = []
    while True:
        method, props, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            return out
        out.append((method, props, body))


def _props(props: Any) -> dict[str, Any]:
    return {"message_id": props.message_id, "type": props.type}


# --- embedded ------------------------------------------------------------------------------------


def _kombu_rows(channel: Any, queue: str) -> list[tuple[int, dict[str, Any]]]:
    rows = channel.session.execute(
        text(
            "SELECT m.id, m.payload FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
            " WHERE q.name = :q AND m.visible = 1 ORDER BY m.id"
        ),
        {"q": queue},
    ).all()
    return [(int(row_id), json.loads(payload)) for row_id, payload in rows]


def _kombu_body(message: dict[str, Any]) -> bytes:
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


# --- the commands --------------------------------------------------------------------------------


def dlq_list(settings: Any, tenant: topology.TenantLike) -> list[DeadLetterEntry]:
    """Every dead-lettered message of the tenant, per dead-letter queue, oldest first."""
    entries: list[DeadLetterEntry] = []
    if not settings.broker_url:
        from messaging.embedded import open_connection

        conn = open_connection(topology.embedded_url(settings, tenant))
        try:
            for spec in topology.queues(tenant):
                for _row_id, msg in _kombu_rows(conn.default_channel, spec.dead_letter_queue):
                    entries.append(
                        _entry(spec.dead_letter_queue, msg.get("headers") or {}, msg["properties"])
                    )
        finally:
            conn.release()
        return entries
    for spec in topology.queues(tenant):
        with _admin_channel(settings, tenant) as channel:
            for _method, props, _body in _peek(channel, spec.dead_letter_queue):
                entries.append(
                    _entry(spec.dead_letter_queue, dict(props.headers or {}), _props(props))
                )
    return entries


def dlq_replay(
    settings: Any, tenant: topology.TenantLike, message_id: str | uuid.UUID | None = None
) -> int:
    """Send dead letters back to the queue they came from (all, or one message id).

    Returns how many were replayed. A replayed message is checked again from scratch; one that
    is still invalid returns to the dead-letter queue.
    """
    wanted = str(message_id) if message_id is not None else None
    replayed = 0
    if not settings.broker_url:
        from messaging.embedded import open_connection

        conn = open_connection(topology.embedded_url(settings, tenant))
        try:
            channel = conn.default_channel
            producer = conn.Producer()
            for spec in topology.queues(tenant):
                for row_id, msg in _kombu_rows(channel, spec.dead_letter_queue):
                    props = msg["properties"]
                    if wanted is not None and props.get("message_id") != wanted:
                        continue
                    headers = _replay_headers(msg.get("headers") or {})
                    producer.publish(
                        _kombu_body(msg),
                        exchange="",
                        routing_key=spec.name,
                        headers=headers,
                        content_type=CONTENT_TYPE,
                        content_encoding="binary",
                        delivery_mode=2,
                        message_id=props.get("message_id"),
                        type=props.get("type"),
                        retry=False,
                    )
                    channel.session.execute(
                        text("DELETE FROM kombu_message WHERE id = :id"), {"id": row_id}
                    )
                    channel.session.commit()
                    replayed += 1
        finally:
            conn.release()
        return replayed

    import pika

    for spec in topology.queues(tenant):
        with _admin_channel(settings, tenant) as channel:
            channel.confirm_delivery()
            for method, props, body in _peek(channel, spec.dead_letter_queue):
                if wanted is not None and props.message_id != wanted:
                    continue
                headers = _replay_headers(dict(props.headers or {}))
                channel.basic_publish(
                    "",
                    str(headers.get("x-integra-dead-queue") or spec.name),
                    body,
                    pika.BasicProperties(
                        message_id=props.message_id,
                        correlation_id=props.correlation_id,
                        type=props.type,
                        content_type=props.content_type,
                        delivery_mode=2,
                        headers=headers,
                    ),
                    mandatory=True,
                )  # confirmed (BlockingChannel raises if returned or nacked)
                channel.basic_ack(method.delivery_tag)
                replayed += 1
    return replayed


def _replay_headers(headers: dict[str, Any]) -> dict[str, Any]:
    dropped = ("x-integra-dead", "x-integra-dlq-seq", "x-death")
    out = {k: v for k, v in headers.items() if not k.startswith(dropped)}
    out[REPLAYED_HEADER] = int(headers.get(REPLAYED_HEADER, 0)) + 1
    if "x-integra-dead-queue" in headers:
        out["x-integra-dead-queue"] = headers["x-integra-dead-queue"]
    return out


def status(settings: Any, tenant: topology.TenantLike, engine: Engine) -> BusStatus:
    """Outbox lag of the tenant's database and the depth of each of its queues."""
    with Session(engine) as session:
        pending, failing, oldest = session.execute(
            select(
                func.count(),
                func.count().filter(OutboxMessage.attempts > 0),
                func.min(OutboxMessage.created_at),
            ).where(OutboxMessage.sent_at.is_(None))
        ).one()
    if isinstance(oldest, str):  # SQLite returns the aggregate unconverted
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    lag = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
    names = [n for spec in topology.queues(tenant) for n in (spec.name, spec.dead_letter_queue)]
    depths: list[QueueDepth] = []
    if settings.broker_url:
        admin = topology.BrokerAdmin.from_settings(settings)
        listed = admin.request("GET", f"queues/{topology._q(tenant.vhost)}") or []
        by_name = {q["name"]: q for q in listed}
        for name in names:
            q = by_name.get(name, {})
            depths.append(
                QueueDepth(
                    name, int(q.get("messages_ready", 0)), int(q.get("messages_unacknowledged", 0))
                )
            )
    else:
        from messaging.embedded import open_connection

        conn = open_connection(topology.embedded_url(settings, tenant))
        try:
            session = conn.default_channel.session
            for name in names:
                ready, unacked = session.execute(
                    text(
                        "SELECT coalesce(sum(m.visible = 1), 0), coalesce(sum(m.visible = 0), 0)"
                        " FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
                        " WHERE q.name = :q"
                    ),
                    {"q": name},
                ).one()
                depths.append(QueueDepth(name, int(ready), int(unacked)))
        finally:
            conn.release()
    return BusStatus(tenant.slug, int(pending), int(failing), max(lag, 0.0), tuple(depths))
