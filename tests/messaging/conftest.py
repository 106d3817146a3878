"""Fixtures of the bus tests: real RabbitMQ and PostgreSQL, a fresh vhost and database per run.

Tests marked ``rabbitmq`` or ``postgres`` skip when the service is unreachable, unless
``INTEGRA_REQUIRE_SERVICES=1``, in which case they fail.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, String, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from deploy.wiring import bus_transport
from messaging import store
from messaging.broker_admin import drop_installation
from messaging.signing import ensure_tenant_keys
from tenants.registry import BusEntry, DatabaseEntry, IdentityEntry, PartnerEntry, Tenant
from tenants.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "INTEGRA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BROKER_URL = os.environ.get("INTEGRA_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT_URL = os.environ.get("INTEGRA_TEST_BROKER_MANAGEMENT_URL", "http://127.0.0.1:15672")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _require(name: str, ok: bool) -> None:
    if ok:
        return
    if os.environ.get("INTEGRA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is unreachable and INTEGRA_REQUIRE_SERVICES=1")
    pytest.skip(f"{name} is unreachable")


#: The shared vhost of this test process (users are named under it too): deleted at the end.
TEST_VHOST = f"integra-test-{uuid.uuid4().hex[:8]}"


def make_settings(
    home: Path, broker_url: str | None = BROKER_URL, broker_vhost: str = TEST_VHOST
) -> Settings:
    return Settings(
        home=home,
        database_url=None,
        database_prefix="integra",
        broker_url=broker_url,
        broker_management_url=MANAGEMENT_URL,
        port=8000,
        host="127.0.0.1",
        tenants_dir=home / "tenants",
        domain=None,
        token_lifetime=3600,
        broker_vhost=broker_vhost,
    )


def make_tenant(slug: str | None = None, vhost: str | None = None) -> Tenant:
    slug = slug or f"t{uuid.uuid4().hex[:10]}"
    return Tenant(
        slug=slug,
        name=f"Test tenant {slug}",
        federal_state="NW",
        kind="city",
        offices=(),
        partners=(
            PartnerEntry(key="jobcenter", kind="jobcenter", name="Jobcenter", channel="amqp"),
        ),
        database=DatabaseEntry(),
        bus=BusEntry(vhost=vhost or f"integra-test.{slug}"),
        identity=IdentityEntry(),
    )


@pytest.fixture(scope="session")
def rabbitmq_available(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bool]:
    url = urllib.parse.urlsplit(BROKER_URL)
    available = _reachable(url.hostname or "127.0.0.1", url.port or 5672)
    yield available
    if available:  # the shared vhost of this process's tests, if any test created it
        drop_installation(make_settings(tmp_path_factory.mktemp("broker-cleanup")))


@pytest.fixture
def rabbitmq(rabbitmq_available: bool) -> None:
    _require("RabbitMQ", rabbitmq_available)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    url = make_url(PG_ADMIN_URL)
    return _reachable(url.host or "127.0.0.1", url.port or 5432)


@pytest.fixture
def postgres(postgres_available: bool) -> None:
    _require("PostgreSQL", postgres_available)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, broker_url=None)


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant()


@pytest.fixture
def bus(rabbitmq: None, settings: Settings, tenant: Tenant) -> Iterator[Tenant]:
    """A provisioned tenant on RabbitMQ: fresh vhost, users, keys; deleted at teardown."""
    ensure_tenant_keys(settings, tenant.slug)
    bus_transport(settings).provision(tenant)
    try:
        yield tenant
    finally:
        bus_transport(settings).deprovision(tenant)


def _create_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def migrated_engine(url: Any) -> Engine:
    engine = create_engine(url)
    with engine.begin() as conn:
        store.upgrade(conn)
        EffectBase.metadata.create_all(conn)
    return engine


@pytest.fixture
def pg_engine(postgres: None) -> Iterator[Engine]:
    """A fresh PostgreSQL database with the bus tables and the test effect table."""
    name = f"integra_msgtest_{uuid.uuid4().hex[:12]}"
    _create_database(name)
    engine = migrated_engine(make_url(PG_ADMIN_URL).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        _drop_database(name)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated_engine(f"sqlite:///{tmp_path / 'tenant.sqlite3'}")
    yield engine
    engine.dispose()


# --- a stand-in for a service's state: one row per effect ----------------------------------


class EffectBase(DeclarativeBase):
    pass


class Effect(EffectBase):
    """What a test handler does: one row per handled message (no unique key on purpose)."""

    __tablename__ = "test_effects"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID]
    referral_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(100))
