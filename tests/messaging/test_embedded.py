"""The embedded bus (kombu SQLAlchemy transport on SQLite): same relay and consumer code."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import outbox, topology
from messaging.consumer import MessageConsumer
from messaging.relay import OutboxRelay
from messaging.signing import ensure_tenant_keys
from messaging.store import DeadLetter, InboxMessage
from tenants.registry import Tenant
from tenants.settings import Settings

from .conftest import migrated_engine
from .factories import referral_requested
from .helpers import count, effects, record_effect, running, wait_for


@pytest.fixture
def embedded_bus(embedded_settings: Settings, tenant: Tenant) -> Iterator[Tenant]:
    ensure_tenant_keys(embedded_settings, tenant.slug)
    bus_transport(embedded_settings).provision(tenant)
    yield tenant
    bus_transport(embedded_settings).deprovision(tenant)


def jobcenter(settings: Settings, tenant: Tenant, engine: Engine) -> MessageConsumer:
    consumer = MessageConsumer(
        bus_transport(settings), tenant, "jobcenter", engine, retry_delays=(0.05,)
    )
    consumer.register("referral.requested", record_effect)
    return consumer


def test_embedded_round_trip_and_dead_letter(
    embedded_settings: Settings, embedded_bus: Tenant, sqlite_engine: Engine
) -> None:
    settings, tenant, engine = embedded_settings, embedded_bus, sqlite_engine
    sent = []
    with Session(engine) as session, session.begin():
        for _ in range(5):
            envelope = referral_requested(tenant.slug)
            outbox.append(session, envelope)
            sent.append(envelope.id)
    relay = OutboxRelay.for_tenant(bus_transport(settings), tenant, engine, poll_interval=0.1)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        with running(jobcenter(settings, tenant, engine)):
            wait_for(lambda: count(engine, InboxMessage) == 5)
            # an unsigned message straight onto the embedded bus: dead-lettered with a reason
            from messaging.transports.embedded import open_connection

            conn = open_connection(bus_transport(settings).url(tenant))
            try:
                topology.declare_kombu(conn, tenant)  # bindings live in each process's memory
                conn.Producer().publish(
                    b"garbage",
                    exchange=topology.EVENTS_EXCHANGE,
                    routing_key=f"{tenant.slug}.jobcenter.referral.requested",
                    content_type="application/jose",
                    content_encoding="binary",
                )
            finally:
                conn.release()
            wait_for(lambda: count(engine, DeadLetter) == 1)
    finally:
        relay.stop()
        thread.join(10)
    assert [e.message_id for e in effects(engine)] == sent
    (entry,) = bus_transport(settings).dead_letters(tenant)
    assert entry.reason == "malformed"
    assert entry.queue == f"{tenant.slug}.jobcenter.dead"


KILLED = """
import os, signal, sys
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.orm import Session
sys.path.insert(0, {root!r})
from tests.messaging.conftest import make_settings, make_tenant, migrated_engine
from tests.messaging.factories import referral_requested
from tests.messaging.helpers import record_effect
from messaging import outbox
from messaging.consumer import MessageConsumer
from messaging.relay import OutboxRelay
from deploy.wiring import bus_transport

settings = make_settings(Path({home!r}), broker_url=None)
tenant = make_tenant({slug!r}, {vhost!r})
engine = migrated_engine({db!r})
with Session(engine) as session, session.begin():
    for _ in range(20):
        outbox.append(session, referral_requested(tenant.slug))
relay = OutboxRelay.for_tenant(bus_transport(settings), tenant, engine, batch_size=12)
relay.publish_pending()  # 12 on the bus, 8 still in the outbox
relay.publisher.close()
handled = []

def handle_then_die(session, envelope):
    record_effect(session, envelope)
    handled.append(envelope.id)
    if len(handled) == 5:  # killed after this commit, before the acknowledgement
        event.listen(session, "after_commit", lambda s: os.kill(os.getpid(), signal.SIGKILL))

consumer = MessageConsumer(bus_transport(settings), tenant, "jobcenter", engine, prefetch=1)
consumer.register("referral.requested", handle_then_die)
consumer.run()
"""


def test_pending_messages_survive_sigkill_and_take_effect_once(
    embedded_settings: Settings, embedded_bus: Tenant, tmp_path: Path
) -> None:
    settings, tenant = embedded_settings, embedded_bus
    db = f"sqlite:///{tmp_path / 'killed.sqlite3'}"
    script = KILLED.format(
        root=str(Path(__file__).resolve().parents[2]),
        home=str(settings.home),
        slug=tenant.slug,
        vhost=tenant.vhost,
        db=db,
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], timeout=60, capture_output=True, check=False
    )
    assert proc.returncode == -9, proc.stderr.decode()[-3000:]
    engine = migrated_engine(db)
    try:
        assert count(engine, InboxMessage) == 5
        relay = OutboxRelay.for_tenant(bus_transport(settings), tenant, engine)
        with running(jobcenter(settings, tenant, engine)):
            assert relay.drain() == 8
            relay.publisher.close()
            wait_for(lambda: count(engine, InboxMessage) == 20)
        got = effects(engine)
        assert len(got) == 20
        assert len({e.message_id for e in got}) == 20
    finally:
        engine.dispose()


def test_a_commit_wakes_relay_and_consumer_in_the_same_process(
    embedded_settings: Settings,
    embedded_bus: Tenant,
    sqlite_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite cannot notify: an outbox commit wakes the relay of its database and a publish
    wakes the consumers of its bus file directly. With both polling only every 30 s, each
    message still takes effect within moments of its commit."""
    from messaging.transports import kombu_bus

    settings, tenant, engine = embedded_settings, embedded_bus, sqlite_engine
    monkeypatch.setattr(kombu_bus, "IDLE_POLL", 30.0)
    relay = OutboxRelay.for_tenant(bus_transport(settings), tenant, engine, poll_interval=30.0)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        with running(jobcenter(settings, tenant, engine)):
            for expected in (1, 2, 3):  # each time relay and consumer are waiting again
                time.sleep(0.3)
                with Session(engine) as session, session.begin():
                    outbox.append(session, referral_requested(tenant.slug))
                # well before either would look on its own
                wait_for(lambda n=expected: count(engine, InboxMessage) == n, timeout=10)
    finally:
        relay.stop()
        thread.join(10)
    assert not thread.is_alive()
