"""The bus's metrics on the embedded bus: what the relay published, what the consumer took
in and what it dead-lettered, by tenant and type; and the outbox lag per tenant read at
scrape time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.orm import Session

from deploy.observability import OutboxLagCollector
from deploy.wiring import bus_transport
from messaging import outbox, topology
from messaging.relay import OutboxRelay
from messaging.signing import ensure_tenant_keys
from messaging.store import DeadLetter, InboxMessage, OutboxMessage
from messaging.transports.embedded import open_connection
from tenants.registry import Registry, Tenant
from tenants.settings import Settings

from .conftest import migrated_engine
from .factories import referral_requested
from .helpers import count, running, wait_for
from .test_embedded import jobcenter


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_published_consumed_and_dead_lettered_are_counted(
    embedded_settings: Settings, tenant: Tenant, sqlite_engine: object
) -> None:
    settings, engine = embedded_settings, sqlite_engine
    ensure_tenant_keys(settings, tenant.slug)
    bus_transport(settings).provision(tenant)
    kind = "referral.requested"
    before = {
        "published": sample("integra_messages_published_total", tenant=tenant.slug, type=kind),
        "consumed": sample(
            "integra_messages_consumed_total", tenant=tenant.slug, type=kind, outcome="effect"
        ),
        "dead": sample(
            "integra_messages_dead_lettered_total",
            tenant=tenant.slug,
            type="unknown",
            reason="malformed",
        ),
    }
    with Session(engine) as session, session.begin():  # type: ignore[call-overload]
        for _ in range(3):
            outbox.append(session, referral_requested(tenant.slug))
    relay = OutboxRelay.for_tenant(bus_transport(settings), tenant, engine, poll_interval=0.1)  # type: ignore[arg-type]
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        with running(jobcenter(settings, tenant, engine)):  # type: ignore[arg-type]
            wait_for(lambda: count(engine, InboxMessage) == 3)  # type: ignore[arg-type]
            conn = open_connection(bus_transport(settings).url(tenant))
            try:
                topology.declare_kombu(conn, tenant)
                conn.Producer().publish(
                    b"garbage",
                    exchange=topology.EVENTS_EXCHANGE,
                    routing_key=topology.routing_key(
                        tenant.slug, "jobcenter", "referral.requested"
                    ),
                    headers={"type": "made.up.type"},  # a forged type makes no new series
                    content_type="application/jose",
                    content_encoding="binary",
                )
            finally:
                conn.release()
            wait_for(lambda: count(engine, DeadLetter) == 1)  # type: ignore[arg-type]
    finally:
        relay.stop()
        thread.join(10)
        bus_transport(settings).deprovision(tenant)
    assert (
        sample("integra_messages_published_total", tenant=tenant.slug, type=kind)
        - before["published"]
        == 3
    )
    assert (
        sample("integra_messages_consumed_total", tenant=tenant.slug, type=kind, outcome="effect")
        - before["consumed"]
        == 3
    )
    assert (
        sample(
            "integra_messages_dead_lettered_total",
            tenant=tenant.slug,
            type="unknown",
            reason="malformed",
        )
        - before["dead"]
        == 1
    )
    assert sample("integra_messages_dead_lettered_total", tenant=tenant.slug,
                  type="made.up.type", reason="malformed") == 0  # fmt: skip


def test_outbox_lag_is_the_age_of_the_oldest_unsent_message(
    embedded_settings: Settings, tenant: Tenant
) -> None:
    settings = embedded_settings
    path: Path = settings.var_dir / "tenants" / f"{tenant.slug}.sqlite3"
    path.parent.mkdir(parents=True)
    engine = migrated_engine(f"sqlite:///{path}")
    idle = Tenant(**{**tenant.__dict__, "slug": f"{tenant.slug}-idle"})  # no file: lag 0
    collector = OutboxLagCollector(
        settings, Registry({tenant.slug: tenant, idle.slug: idle}), min_interval=0
    )
    assert collector.lags() == {tenant.slug: 0.0, idle.slug: 0.0}
    assert not (settings.var_dir / "tenants" / f"{idle.slug}.sqlite3").exists()
    with Session(engine) as session, session.begin():
        outbox.append(session, referral_requested(tenant.slug))
    with Session(engine) as session, session.begin():
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        session.execute(update(OutboxMessage).values(created_at=an_hour_ago))
    lag = collector.lags()[tenant.slug]
    assert 3590 < lag < 3700
    (family,) = collector.collect()
    assert {s.labels["tenant"]: s.value for s in family.samples}[tenant.slug] == pytest.approx(
        lag, abs=5
    )
    with Session(engine) as session, session.begin():
        session.execute(update(OutboxMessage).values(sent_at=datetime.now(UTC)))
    assert collector.lags()[tenant.slug] == 0.0
    collector.dispose()
    engine.dispose()
