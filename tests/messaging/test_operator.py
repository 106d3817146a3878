"""Operator commands against the real broker: dlq list/replay and status."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import outbox, topology
from messaging.consumer import MessageConsumer
from messaging.envelope import Envelope
from messaging.operator import status
from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.store import InboxMessage
from tenants.registry import Tenant
from tenants.settings import Settings

from .factories import referral_requested
from .helpers import count, publish_raw, queue_depth, record_effect, running, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def test_dead_letters_are_listed_and_replayed_after_the_fix(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    broken = {"yes": True}

    def flaky(session: Session, envelope: Envelope) -> None:
        if broken["yes"]:
            raise RuntimeError("downstream unavailable")
        record_effect(session, envelope)

    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    first, second = referral_requested(bus.slug), referral_requested(bus.slug)
    consumer = MessageConsumer(
        bus_transport(settings), bus, "jobcenter", pg_engine, retry_delays=(0.01,)
    )
    consumer.register("referral.requested", flaky)
    with running(consumer):
        publish_raw(
            settings, bus, [(e.routing_key, signer.sign(e), str(e.id)) for e in (first, second)]
        )
        wait_for(lambda: queue_depth(settings, bus, f"{bus.slug}.jobcenter.dead") == 2)
        listed = bus_transport(settings).dead_letters(bus)
        assert {(e.message_id, e.reason, e.queue) for e in listed} == {
            (str(first.id), "handler_failed", f"{bus.slug}.jobcenter.dead"),
            (str(second.id), "handler_failed", f"{bus.slug}.jobcenter.dead"),
        }
        assert all("downstream unavailable" in (e.detail or "") for e in listed)
        assert len(bus_transport(settings).dead_letters(bus)) == 2  # listing removes nothing

        broken["yes"] = False
        assert bus_transport(settings).replay(bus, first.id) == 1
        wait_for(lambda: count(pg_engine, InboxMessage) == 1)
        assert [e.message_id for e in bus_transport(settings).dead_letters(bus)] == [str(second.id)]
        assert bus_transport(settings).replay(bus) == 1
        wait_for(lambda: count(pg_engine, InboxMessage) == 2)
    assert bus_transport(settings).dead_letters(bus) == []


def test_status_shows_outbox_lag_and_queue_depths(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    with Session(pg_engine) as session, session.begin():
        for _ in range(3):
            outbox.append(session, referral_requested(bus.slug))
    before = status(bus_transport(settings), bus, pg_engine)
    assert before.outbox_pending == 3
    assert before.outbox_lag_seconds >= 0
    from messaging.relay import OutboxRelay

    relay = OutboxRelay.for_tenant(bus_transport(settings), bus, pg_engine)
    relay.drain()
    relay.publisher.close()
    after = status(bus_transport(settings), bus, pg_engine)
    assert (after.outbox_pending, after.outbox_lag_seconds) == (0, 0.0)
    depths = {q.queue: q for q in after.queues}
    assert set(depths) == {
        f"{bus.slug}.{p}.{kind}" for p in topology.parties(bus) for kind in ("inbox", "dead")
    }
    wait_for(lambda: queue_depth(settings, bus, f"{bus.slug}.jobcenter.inbox") == 3)
