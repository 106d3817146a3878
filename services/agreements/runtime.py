"""The agreement service as the composition root sees it: ``provision`` a tenant's database
for it, and ``start`` its part on the bus (outbox relay and inbox consumer).

The web side is ``create_app`` (app.py); this is the rest of the service's life cycle.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from messaging import store as bus_store
from messaging.consumer import DeadLetterInfo, MessageConsumer
from messaging.relay import OutboxRelay
from messaging.runtime import BusRuntime
from messaging.topology import AGREEMENTS
from messaging.transports.base import Transport
from tenants.databases import create_tenant_engine, ensure_database
from tenants.registry import Tenant
from tenants.settings import Settings

from . import migrate
from .identity.keys import load_identity_keys
from .incoming import register_handlers
from .models.vocabulary import Role
from .operations import audit
from .operations.offices import sync_offices
from .principal import Principal


def migrate_tenant(engine: Engine) -> None:
    """Every schema the tenant's database holds, in order: the agreement service's tables,
    then the bus's outbox and inbox beside them (one transaction spans both)."""
    migrate.upgrade(engine)
    with engine.begin() as connection:
        bus_store.upgrade(connection)


def provision(
    settings: Settings, tenant: Tenant, *, engine: Engine | None = None
) -> tuple[bool, str | None]:
    """The tenant's database for this service: created if missing, migrated, its offices
    synchronised from the registry. Idempotent. Returns (created, schema revision)."""
    created = ensure_database(settings, tenant)
    own_engine = engine is None
    engine = engine or create_tenant_engine(settings, tenant, pool_size=1)
    try:
        migrate_tenant(engine)
        with Session(engine) as session, session.begin():
            sync_offices(session, tenant)
        # the identity provider's RSA key, made now rather than by the tenant's first request
        load_identity_keys(settings.tenant_secrets_dir(tenant.slug))
        return created, migrate.current_revision(engine)
    finally:
        if own_engine:
            engine.dispose()


def dead_letter_auditor(tenant: Tenant) -> Any:
    """A message that cannot take effect leaves an audit entry beside its dead letter."""

    def record(session: Session, info: DeadLetterInfo) -> None:
        bus = Principal("service:bus", Role.SERVICE, tenant.slug)
        audit.record(
            session,
            bus,
            "message.dead_lettered",
            "message",
            info.message_id,
            None,
            type=info.type,
            reason_code=info.reason_code,
            reason_text=(info.reason_text or "")[:500],
        )

    return record


class AgreementBus:
    """Relay (outbox → bus) and consumer (bus → operations) of one tenant, as jobs of the
    process's shared :class:`~messaging.runtime.BusRuntime` (no thread of their own)."""

    def __init__(
        self, transport: Transport, tenant: Tenant, engine: Engine, **consumer_options: Any
    ) -> None:
        self.tenant = tenant
        self.consumer = MessageConsumer(
            transport,
            tenant,
            AGREEMENTS,
            engine,
            on_dead_letter=dead_letter_auditor(tenant),
            **consumer_options,
        )
        register_handlers(self.consumer)
        self.relay = OutboxRelay.for_tenant(transport, tenant, engine)
        self.keys = ((tenant.slug, "agreements.relay"), (tenant.slug, "agreements.inbox"))
        self.runtime: BusRuntime | None = None

    def attach(self, runtime: BusRuntime) -> None:
        self.runtime = runtime
        runtime.add_relay(self.keys[0], self.relay)
        runtime.add_consumer(self.keys[1], self.consumer)

    def signal_stop(self) -> None:
        self.consumer.stop_event.set()
        if self.runtime is not None:
            for key in self.keys:
                self.runtime.remove(key)

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        self.relay.publisher.close()


def start(runtime: BusRuntime, tenant: Tenant, engine: Engine, **options: Any) -> AgreementBus:
    """The agreement service's part on the bus for ``tenant``, running on ``runtime``."""
    bus = AgreementBus(runtime.transport, tenant, engine, **options)
    bus.attach(runtime)
    return bus
