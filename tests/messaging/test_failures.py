"""Nothing is lost and nothing takes effect twice when connections or processes die."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import broker_admin, outbox
from messaging.consumer import MessageConsumer
from messaging.relay import OutboxRelay
from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.store import InboxMessage, OutboxMessage
from tenants.registry import Tenant
from tenants.settings import Settings
from tests.fixtures.services import services_required

from .factories import referral_requested
from .helpers import count, effects, publish_raw, record_effect, running, wait_for
from .proxy import CuttableProxy

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def via(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def collect_torn_sockets() -> Iterator[None]:
    """Connections the proxy tears mid-frame can leave pika sockets that are closed only
    when collected; collect them here, under this test's warning filter, instead of letting
    the ResourceWarning surface in whichever test runs when the collector happens to run."""
    yield
    gc.collect()


# Torn connections are the point of this test; their sockets' collection is not a finding.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_cut_connections_mid_stream_lose_nothing(
    settings: Settings, bus: Tenant, pg_engine: Engine, collect_torn_sockets: None
) -> None:
    total = 1500
    proxy = CuttableProxy(("127.0.0.1", 5672))
    relay = OutboxRelay.for_tenant(
        bus_transport(settings),
        bus,
        pg_engine,
        url=via(bus_transport(settings).url(bus, "agreements"), proxy.port),
        batch_size=100,
        poll_interval=0.2,
        max_backoff=0.5,
    )
    consumer = MessageConsumer(
        bus_transport(settings),
        bus,
        "jobcenter",
        pg_engine,
        url=via(bus_transport(settings).url(bus, "jobcenter"), proxy.port),
        prefetch=50,
    )
    consumer.register("referral.requested", record_effect)
    relay_thread = threading.Thread(target=relay.run, daemon=True)
    try:
        with running(consumer):
            relay_thread.start()
            for chunk in range(15):
                with Session(pg_engine) as session, session.begin():
                    for _ in range(total // 15):
                        outbox.append(session, referral_requested(bus.slug))
                if chunk % 3 == 2:
                    proxy.cut()
                time.sleep(0.05)
            proxy.cut()
            wait_for(lambda: count(pg_engine, InboxMessage) == total, timeout=60)
    finally:
        relay.stop()
        relay_thread.join(10)
        proxy.close()
    assert proxy.cuts >= 5
    got = effects(pg_engine)
    assert len(got) == total
    assert len({e.message_id for e in got}) == total
    with Session(pg_engine) as session:
        assert all(r.sent_at for r in session.scalars(select(OutboxMessage)))


def _rabbitmqctl() -> str:
    """The local broker's control tool, if this test may restart the broker (CI: must)."""
    path = shutil.which("rabbitmqctl")
    ok = path is not None and (
        subprocess.run([path, "status"], capture_output=True, timeout=60, check=False).returncode
        == 0
    )
    if not ok:
        message = "rabbitmqctl cannot control the local RabbitMQ node"
        if services_required():
            pytest.fail(message + " (INTEGRA_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    assert path is not None
    return path


def _broker_back(rabbitmqctl: str, settings: Settings) -> None:
    subprocess.run([rabbitmqctl, "await_startup"], check=True, capture_output=True, timeout=120)
    admin = broker_admin.BrokerAdmin.from_settings(settings)
    deadline = time.monotonic() + 60
    while True:  # the fixtures' teardown needs the management API
        try:
            admin.request("GET", "overview")
            return
        except broker_admin.ProvisioningError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.exclusive
def test_broker_restart_mid_stream_loses_nothing(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> None:
    """RabbitMQ itself stops and starts again (its application, as a restart of the service
    does) while outbox rows keep being committed: every message takes effect exactly once."""
    rabbitmqctl = _rabbitmqctl()
    total = 600
    relay = OutboxRelay.for_tenant(
        bus_transport(settings), bus, pg_engine, batch_size=50, poll_interval=0.2, max_backoff=0.5
    )
    consumer = MessageConsumer(bus_transport(settings), bus, "jobcenter", pg_engine, prefetch=20)
    consumer.register("referral.requested", record_effect)
    relay_thread = threading.Thread(target=relay.run, daemon=True)
    restarted = False
    try:
        with running(consumer):
            relay_thread.start()
            for chunk in range(12):
                with Session(pg_engine) as session, session.begin():
                    for _ in range(total // 12):
                        outbox.append(session, referral_requested(bus.slug))
                if chunk == 4:
                    # some messages are through, some in flight, some still in the outbox
                    wait_for(lambda: count(pg_engine, InboxMessage) > 0, timeout=30)
                    subprocess.run([rabbitmqctl, "stop_app"], check=True, capture_output=True)
                    restarted = True
                if chunk == 7:  # rows committed while the broker was down wait in the outbox
                    subprocess.run([rabbitmqctl, "start_app"], check=True, capture_output=True)
                    _broker_back(rabbitmqctl, settings)
                time.sleep(0.05)
            wait_for(lambda: count(pg_engine, InboxMessage) == total, timeout=90)
    finally:
        if restarted:
            subprocess.run([rabbitmqctl, "start_app"], capture_output=True, check=False)
            _broker_back(rabbitmqctl, settings)
        relay.stop()
        relay_thread.join(10)
    got = effects(pg_engine)
    assert len(got) == total
    assert len({e.message_id for e in got}) == total
    with Session(pg_engine) as session:
        assert all(r.sent_at for r in session.scalars(select(OutboxMessage)))


KILLER = """
import os, signal, sys
from pathlib import Path
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session
sys.path.insert(0, {root!r})
from tests.messaging.conftest import make_settings, make_tenant
from tests.messaging.helpers import record_effect
from messaging.consumer import MessageConsumer
from deploy.wiring import bus_transport

settings = make_settings(Path({home!r}), broker_vhost={broker_vhost!r})
tenant = make_tenant({slug!r}, {vhost!r})
engine = create_engine({db!r})

def handle_then_die(session, envelope):
    record_effect(session, envelope)
    # SIGKILL right after the commit, before the acknowledgement can be sent
    event.listen(session, "after_commit", lambda s: os.kill(os.getpid(), signal.SIGKILL))

consumer = MessageConsumer(bus_transport(settings), tenant, "jobcenter", engine)
consumer.register("referral.requested", handle_then_die)
consumer.run()
"""


def test_consumer_killed_before_ack_gets_message_again_with_one_effect(
    settings: Settings, bus: Tenant, pg_engine: Engine, tmp_path: Path
) -> None:
    envelope = referral_requested(bus.slug)
    signer = EnvelopeSigner(BusKeyring.load(settings, bus.slug))
    publish_raw(settings, bus, [(envelope.routing_key, signer.sign(envelope), str(envelope.id))])
    script = KILLER.format(
        root=str(Path(__file__).resolve().parents[2]),
        home=str(settings.home),
        slug=bus.slug,
        vhost=bus.vhost,
        broker_vhost=settings.broker_vhost,
        db=pg_engine.url.render_as_string(hide_password=False),
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], timeout=30, capture_output=True, check=False
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert count(pg_engine, InboxMessage) == 1  # committed, but never acknowledged

    seen = []

    def again(session: Session, env: object) -> None:
        seen.append(env)

    consumer = MessageConsumer(bus_transport(settings), bus, "jobcenter", pg_engine)
    consumer.register("referral.requested", again)
    redelivered = []
    original_process = consumer.process

    def spy(deliveries):  # type: ignore[no-untyped-def]
        redelivered.extend(d.redelivered for d in deliveries)
        return original_process(deliveries)

    consumer.process = spy  # type: ignore[method-assign]
    with running(consumer):
        wait_for(lambda: redelivered == [True])
        time.sleep(0.2)
    assert seen == []  # the inbox knew it: no second effect
    assert len(effects(pg_engine)) == 1
