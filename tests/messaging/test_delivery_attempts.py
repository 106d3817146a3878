"""Poison messages on classic queues: the consumer counts redeliveries in the bus store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import delivery_attempts
from messaging.consumer import MessageConsumer
from messaging.envelope import Envelope
from messaging.signing import BusKeyring, EnvelopeSigner, ensure_tenant_keys
from messaging.store import DeadLetter, DeliveryAttempt
from messaging.topology import DELIVERY_LIMIT
from messaging.transports.base import Delivery
from tenants.registry import Tenant
from tenants.settings import Settings

from .factories import referral_requested
from .helpers import count, publish_raw, queue_depth, record_effect, running, wait_for

DIES_IN_HANDLER = """
import os, signal, sys
from pathlib import Path
from sqlalchemy import create_engine
sys.path.insert(0, {root!r})
from tests.messaging.conftest import make_settings, make_tenant
from messaging.consumer import MessageConsumer
from messaging.envelope import Envelope
from deploy.wiring import bus_transport

settings = make_settings(Path({home!r}), broker_vhost={broker_vhost!r})
tenant = make_tenant({slug!r})
consumer = MessageConsumer(bus_transport(settings), tenant, "jobcenter", create_engine({db!r}))
consumer.register("referral.requested", lambda s, e: os.kill(os.getpid(), signal.SIGKILL))
consumer.run()
"""


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_message_that_keeps_killing_its_consumer_reaches_the_dlq(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    """What a quorum queue's delivery limit did, on a classic queue: after DELIVERY_LIMIT
    deliveries that each killed the consumer, the next one goes to the DLQ with a reason and
    the messages behind it are handled."""
    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    poison, behind = referral_requested(bus.slug), referral_requested(bus.slug)
    publish_raw(settings, bus, [(poison.routing_key, signer.sign(poison), str(poison.id))])
    script = DIES_IN_HANDLER.format(
        root=str(Path(__file__).resolve().parents[2]),
        home=str(settings.home),
        broker_vhost=settings.broker_vhost,
        slug=bus.slug,
        db=pg_engine.url.render_as_string(hide_password=False),
    )
    for _ in range(DELIVERY_LIMIT):
        proc = subprocess.run(
            [sys.executable, "-c", script], timeout=60, capture_output=True, check=False
        )
        assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    with Session(pg_engine) as session:
        assert session.scalar(select(DeliveryAttempt.attempts)) == DELIVERY_LIMIT

    handled = []
    consumer = MessageConsumer(bus_transport(settings), bus, "jobcenter", pg_engine)
    consumer.register("referral.requested", lambda s, e: handled.append(e.id))
    publish_raw(settings, bus, [(behind.routing_key, signer.sign(behind), str(behind.id))])
    with running(consumer):
        wait_for(lambda: queue_depth(settings, bus, f"{bus.slug}.jobcenter.dead") == 1)
        wait_for(lambda: handled == [behind.id], what="the message behind was handled")
    (entry,) = bus_transport(settings).dead_letters(bus)
    assert (entry.message_id, entry.reason) == (str(poison.id), "delivery_limit")
    assert entry.consumer_queue == f"{bus.slug}.jobcenter.inbox"
    assert count(pg_engine, DeadLetter) == 1
    assert count(pg_engine, DeliveryAttempt) == 0  # a replay starts counting from zero


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_only_redeliveries_are_counted_and_the_limit_is_per_message(
    request: pytest.FixtureRequest, database: str, settings: Settings, tenant: Tenant
) -> None:
    engine: Engine = request.getfixturevalue(
        "sqlite_engine" if database == "sqlite" else "pg_engine"
    )
    ensure_tenant_keys(settings, tenant.slug)
    consumer = MessageConsumer(
        bus_transport(settings), tenant, "jobcenter", engine, url="amqp://unused", delivery_limit=2
    )
    consumer.register("referral.requested", record_effect)
    signer = EnvelopeSigner(BusKeyring.load(settings, tenant.slug))
    poison, fresh = referral_requested(tenant.slug), referral_requested(tenant.slug)

    def delivery(envelope: Envelope, redelivered: bool) -> Delivery:
        return Delivery(signer.sign(envelope), {}, str(envelope.id), redelivered)

    assert delivery_attempts.count_redeliveries(engine, "q", [delivery(fresh, False)]) == {}
    assert count(engine, DeliveryAttempt) == 0  # first deliveries write nothing
    outcomes = consumer.process([delivery(poison, True), delivery(fresh, False)])
    assert [o.dead for o in outcomes] == [False, False]  # second delivery: within the limit
    # (the poison took effect after all: redelivered again, the inbox makes it a duplicate)
    outcomes = consumer.process([delivery(poison, True)])
    assert outcomes[0].dead_reason == "delivery_limit"
    assert count(engine, DeliveryAttempt) == 0
    with Session(engine) as session:
        assert session.scalar(select(DeadLetter.reason_code)) == "delivery_limit"
