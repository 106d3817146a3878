"""outbox → relay → RabbitMQ → consumer → inbox, against the real broker and database."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import outbox
from messaging.consumer import MessageConsumer
from messaging.relay import OutboxRelay
from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.store import InboxMessage, OutboxMessage
from tenants.registry import Tenant
from tenants.settings import Settings

from .factories import referral_received, referral_requested
from .helpers import count, effects, publish_raw, record_effect, running, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def jobcenter(settings: Settings, tenant: Tenant, engine: Engine) -> MessageConsumer:
    consumer = MessageConsumer(
        bus_transport(settings), tenant, "jobcenter", engine, retry_delays=(0.05, 0.1)
    )
    consumer.register("referral.requested", record_effect)
    return consumer


def test_round_trip_keeps_order_per_referral(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    referrals = [uuid.uuid4() for _ in range(3)]
    sent: dict[uuid.UUID, list[uuid.UUID]] = {r: [] for r in referrals}
    with Session(pg_engine) as session, session.begin():
        for n in range(30):
            referral = referrals[n % 3]
            envelope = referral_requested(bus.slug, correlation_id=referral, note=f"n{n}")
            outbox.append(session, envelope)
            sent[referral].append(envelope.id)
    relay = OutboxRelay.for_tenant(bus_transport(settings), bus, pg_engine)
    with running(jobcenter(settings, bus, pg_engine)):
        try:
            assert relay.drain() == 30
        finally:
            relay.publisher.close()
        wait_for(lambda: count(pg_engine, InboxMessage) == 30)
    got = effects(pg_engine)
    for referral in referrals:
        assert [e.message_id for e in got if e.referral_id == str(referral)] == sent[referral]
    with Session(pg_engine) as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    assert sorted(r.sequence for r in rows if r.correlation_id == referrals[0]) == list(
        range(1, 11)
    )


def test_relay_loop_wakes_on_a_commit_in_its_process(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    relay = OutboxRelay.for_tenant(bus_transport(settings), bus, pg_engine, poll_interval=30.0)
    import threading

    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        with running(jobcenter(settings, bus, pg_engine)):
            with Session(pg_engine) as session, session.begin():
                outbox.append(session, referral_requested(bus.slug))
            # polling every 30 s would be too slow: only the commit hook can make this pass
            wait_for(lambda: count(pg_engine, InboxMessage) == 1, timeout=5)
    finally:
        relay.stop()
        thread.join(10)


def test_duplicate_delivery_has_one_effect(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    envelope = referral_requested(bus.slug)
    with Session(pg_engine) as session, session.begin():
        outbox.append(session, envelope)
    relay = OutboxRelay.for_tenant(bus_transport(settings), bus, pg_engine)
    body = EnvelopeSigner(BusKeyring.load(settings, bus.slug)).sign(envelope)
    with running(jobcenter(settings, bus, pg_engine)):
        relay.drain()
        # the relay publishes the same row again (as after a lost confirm) ...
        with Session(pg_engine) as session, session.begin():
            session.execute(update(OutboxMessage).values(sent_at=None))
        relay.drain()
        relay.publisher.close()
        # ... and the same message arrives twice more in one burst
        publish_raw(settings, bus, [(envelope.routing_key, body, str(envelope.id))] * 2)
        wait_for(lambda: count(pg_engine, InboxMessage) == 1)
        marker = referral_requested(bus.slug)
        publish_raw(
            settings,
            bus,
            [
                (
                    marker.routing_key,
                    EnvelopeSigner(BusKeyring.load(settings, bus.slug)).sign(marker),
                    None,
                )
            ],
        )
        wait_for(lambda: count(pg_engine, InboxMessage) == 2)
    assert [e.message_id for e in effects(pg_engine)] == [envelope.id, marker.id]


def test_unroutable_message_stays_pending_with_error(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    lost = referral_requested(bus.slug, recipient="arbeitsagentur")  # no such queue here
    with Session(pg_engine) as session, session.begin():
        outbox.append(session, lost)
        outbox.append(session, referral_received(bus.slug))
    relay = OutboxRelay.for_tenant(bus_transport(settings), bus, pg_engine)
    try:
        sent, failed = relay.publish_pending()
    finally:
        relay.publisher.close()
    assert (sent, failed) == (1, 1)
    with Session(pg_engine) as session:
        row = session.get(OutboxMessage, lost.id)
        assert row is not None
        assert row.sent_at is None
        assert row.last_error is not None and "NO_ROUTE" in row.last_error


def test_long_handler_keeps_the_connection_alive(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    import time

    deliveries: list[bool] = []

    def slow(session: Session, envelope: object) -> None:
        time.sleep(3.5)  # longer than two heartbeat intervals
        record_effect(session, envelope)  # type: ignore[arg-type]

    consumer = MessageConsumer(bus_transport(settings), bus, "jobcenter", pg_engine, heartbeat=1)
    consumer.register("referral.requested", slow)
    original = consumer.process

    def spy(batch):  # type: ignore[no-untyped-def]
        deliveries.extend(d.redelivered for d in batch)
        return original(batch)

    consumer.process = spy  # type: ignore[method-assign]
    envelope = referral_requested(bus.slug)
    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    with running(consumer):
        publish_raw(settings, bus, [(envelope.routing_key, signer.sign(envelope), None)])
        wait_for(lambda: count(pg_engine, InboxMessage) == 1)
        time.sleep(0.3)
    assert deliveries == [False]  # handled once, never redelivered after a dropped connection
    assert len(effects(pg_engine)) == 1
