"""The bus work of many tenants on one shared runtime: bounded threads, timers and open files,
commits published at once without polling, and the sweeper for rows nobody signalled."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from deploy.wiring import bus_transport
from messaging import outbox, store
from messaging.consumer import MessageConsumer
from messaging.relay import OutboxRelay
from messaging.runtime import SWEEP, BusRuntime
from messaging.signing import ensure_tenant_keys
from messaging.store import InboxMessage
from messaging.sweeper import OutboxSweeper
from tenants.databases import (
    create_tenant_engine,
    drop_prefix,
    ensure_database,
    sqlite_engine,
)
from tenants.registry import Tenant
from tenants.settings import Settings

from .conftest import PG_ADMIN_URL, EffectBase, make_settings, make_tenant
from .factories import referral_requested
from .helpers import count, record_effect, wait_for


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def _embedded_tenant(settings: Settings, runtime: BusRuntime) -> tuple[Tenant, Engine]:
    """A tenant on the embedded bus with a relay and a consumer on ``runtime``."""
    tenant = make_tenant()
    ensure_tenant_keys(settings, tenant.slug)
    transport = runtime.transport
    transport.provision(tenant)
    engine = sqlite_engine(settings.var_dir / "tenants" / f"{tenant.slug}.sqlite3", pool_size=0)
    with engine.begin() as conn:
        store.upgrade(conn)
        EffectBase.metadata.create_all(conn)
    consumer = MessageConsumer(transport, tenant, "jobcenter", engine)
    consumer.register("referral.requested", record_effect)
    runtime.add_relay((tenant.slug, "relay"), OutboxRelay.for_tenant(transport, tenant, engine))
    runtime.add_consumer((tenant.slug, "inbox"), consumer)
    return tenant, engine


def _cost_of(settings: Settings, tenants: int) -> tuple[int, int, int, list[Engine]]:
    """Threads, timers and open files of a runtime serving ``tenants`` idle tenants, after
    one referral went through the last of them."""
    runtime = BusRuntime(bus_transport(settings), threads=3, sweep_interval=0.5).start()
    try:
        made = [_embedded_tenant(settings, runtime) for _ in range(tenants)]
        tenant, engine = made[-1]
        with Session(engine) as session, session.begin():
            outbox.append(session, referral_requested(tenant.slug))
        wait_for(lambda: count(engine, InboxMessage) == 1, what="the referral went through")
        assert runtime.pool.wait_idle()
        wait_for(lambda: runtime.pool.timers() <= 3, timeout=15, what="relays idle")
        return (
            threading.active_count(),
            runtime.pool.timers(),
            _open_files(),
            [e for _t, e in made],
        )
    finally:
        runtime.stop()


def test_threads_timers_and_open_files_do_not_grow_with_tenants(tmp_path: Path) -> None:
    few = _cost_of(make_settings(tmp_path / "few", broker_url=None), 3)
    many = _cost_of(make_settings(tmp_path / "many", broker_url=None), 30)
    assert many[0] <= few[0], "threads"  # (a thread another test left may end meanwhile)
    assert many[1] <= few[1], "timers"  # the sweep, the file watch, the slow sweep
    # 27 more tenants; a file per tenant would show as 27 more (files other tests of this
    # process open or close meanwhile move it by a few)
    assert many[2] <= few[2] + 5, "open files"


@pytest.fixture
def pg_relay(
    settings: Settings, bus: Tenant, pg_engine: Engine
) -> Iterator[tuple[BusRuntime, Engine]]:
    """A runtime relaying ``bus``'s outbox in ``pg_engine`` and consuming its jobcenter queue;
    the sweeper only every 60 s."""
    transport = bus_transport(settings)
    runtime = BusRuntime(transport, sweep_interval=60.0)
    consumer = MessageConsumer(transport, bus, "jobcenter", pg_engine)
    consumer.register("referral.requested", record_effect)
    runtime.start()
    runtime.add_consumer((bus.slug, "inbox"), consumer)
    assert consumer.ready.wait(10)
    try:
        yield runtime, pg_engine
    finally:
        runtime.stop()


def test_a_commit_is_published_at_once_without_polling(
    settings: Settings, bus: Tenant, pg_relay: tuple[BusRuntime, Engine]
) -> None:
    runtime, engine = pg_relay
    runtime.add_relay((bus.slug, "relay"), OutboxRelay.for_tenant(bus_transport(settings), bus,
                                                                  engine))  # fmt: skip
    assert runtime.pool.wait_idle()
    for expected in (1, 2):
        with Session(engine) as session, session.begin():
            outbox.append(session, referral_requested(bus.slug))
        # the sweeper looks only every 60 s: only the commit hook can make this pass
        wait_for(lambda n=expected: count(engine, InboxMessage) == n, timeout=3)


def test_the_sweeper_catches_a_row_nobody_signalled(
    settings: Settings, bus: Tenant, pg_relay: tuple[BusRuntime, Engine]
) -> None:
    runtime, engine = pg_relay
    runtime.sweep_interval = 0.3
    runtime.pool.submit(SWEEP)  # from now on every 0.3 s
    runtime.add_relay((bus.slug, "relay"), OutboxRelay.for_tenant(bus_transport(settings), bus,
                                                                  engine))  # fmt: skip
    assert runtime.pool.wait_idle()
    # written through another engine: its commit hook signals a key no relay listens on, as
    # when the writer runs in a process without a relay or dies right after its commit
    other = create_engine(engine.url.update_query_dict({"application_name": "writer"}))
    try:
        with Session(other) as session, session.begin():
            outbox.append(session, referral_requested(bus.slug))
    finally:
        other.dispose()
    wait_for(lambda: count(engine, InboxMessage) == 1, timeout=5)


@pytest.fixture
def schema_settings(postgres: None, tmp_path: Path) -> Iterator[Settings]:
    from sqlalchemy.engine import make_url

    base = make_settings(tmp_path, broker_url=None)
    prefix = f"itsweep{uuid.uuid4().hex[:8]}"
    settings = Settings(**{**base.__dict__, "database_url": make_url(PG_ADMIN_URL),
                           "database_prefix": prefix})  # fmt: skip
    try:
        yield settings
    finally:
        drop_prefix(settings)


def test_the_sweeper_asks_all_tenant_schemas_in_one_query_and_sees_only_sent_at(
    schema_settings: Settings,
) -> None:
    tenants = [make_tenant() for _ in range(3)]
    engines = []
    sweeper = OutboxSweeper()
    for tenant in tenants:
        ensure_database(schema_settings, tenant)
        engine = create_tenant_engine(schema_settings, tenant)
        with engine.begin() as conn:
            store.upgrade(conn)
        sweeper.add(tenant.slug, engine)
        engines.append(engine)
    assert sweeper.pending() == []
    with Session(engines[1]) as session, session.begin():
        outbox.append(session, referral_requested(tenants[1].slug))
    assert sweeper.pending() == [tenants[1].slug]
    # the platform's login role itself reads no message, only whether one waits
    shared = engines[1].shared  # type: ignore[attr-defined]
    schema = engines[1].schema  # type: ignore[attr-defined]
    with shared.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text(f'SELECT envelope FROM "{schema}".outbox_messages'))  # noqa: S608
