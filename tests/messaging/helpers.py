"""Helpers of the bus integration tests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pika
from joserfc import jws
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import topology
from messaging.consumer import MessageConsumer
from messaging.envelope import Envelope
from messaging.signing import SIGNING_ALG, BusKeyring
from tenants.registry import Tenant
from tenants.settings import Settings

from .conftest import Effect


def record_effect(session: Session, envelope: Envelope) -> None:
    session.add(
        Effect(
            message_id=envelope.id,
            referral_id=str(envelope.payload["referral_id"]),
            type=envelope.type,
        )
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not reached in {timeout}s: {what}")


def effects(engine: Engine) -> list[Effect]:
    with Session(engine) as session:
        return list(session.scalars(select(Effect).order_by(Effect.id)))


def count(engine: Engine, entity: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(entity)) or 0)


def sign_raw(settings: Settings, tenant_slug: str, data: dict[str, Any]) -> bytes:
    """Sign any dict with the tenant's key, bypassing the signer's checks."""
    keys = BusKeyring.load(settings, tenant_slug)
    header = {"alg": SIGNING_ALG, "kid": keys.signing_key.kid}
    body = json.dumps(data).encode()
    return jws.serialize_compact(header, body, keys.signing_key, algorithms=[SIGNING_ALG]).encode()


@contextmanager
def admin_channel(settings: Settings, tenant: Tenant) -> Iterator[Any]:
    conn = pika.BlockingConnection(
        pika.URLParameters(bus_transport(settings).url(tenant, admin=True))
    )
    try:
        yield conn.channel()
    finally:
        conn.close()


def publish_raw(
    settings: Settings,
    tenant: Tenant,
    bodies: list[tuple[str, bytes, str | None]],
) -> None:
    """Publish (routing key, body, message id) triples with confirms, as the admin."""
    with admin_channel(settings, tenant) as channel:
        channel.confirm_delivery()
        for routing_key, body, message_id in bodies:
            channel.basic_publish(
                topology.EVENTS_EXCHANGE,
                routing_key,
                body,
                pika.BasicProperties(message_id=message_id, delivery_mode=2),
                mandatory=True,
            )


def dead_letters(
    settings: Settings, tenant: Tenant, party: str
) -> list[tuple[dict[str, Any], bytes]]:
    """Take everything from a party's dead-letter queue."""
    out = []
    with admin_channel(settings, tenant) as channel:
        while True:
            method, props, body = channel.basic_get(
                topology.QueueSpec(tenant.slug, party).dead_letter_queue
            )
            if method is None:
                return out
            out.append((dict(props.headers or {}), body))
            channel.basic_ack(method.delivery_tag)


def queue_depth(settings: Settings, tenant: Tenant, queue: str) -> int:
    with admin_channel(settings, tenant) as channel:
        return int(channel.queue_declare(queue, passive=True).method.message_count)


@contextmanager
def running(consumer: MessageConsumer) -> Iterator[MessageConsumer]:
    thread = consumer.start_thread()
    assert consumer.ready.wait(10), "consumer did not start"
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(15)


def new_id() -> str:
    return str(uuid.uuid4())
