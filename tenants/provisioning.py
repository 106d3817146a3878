"""Provisioning a tenant: its databases and roles, schemas, offices, signing keys, and its
bus (a RabbitMQ vhost with one user per service, or the embedded bus file).

Idempotent: running it again migrates to the newest schema and refreshes the offices from
the registry file, touching nothing else.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from deploy.settings import Settings
from messaging import store as bus_store
from messaging.signing import ensure_tenant_keys
from messaging.topology import deprovision_tenant_bus, provision_tenant_bus
from services.agreements import migrate as agreement_migrations
from services.agreements.operations.offices import sync_offices
from services.connectors.runtime import provision_connector
from services.connectors.service import SERVICE_CODES
from tenants.databases import create_tenant_engine, drop_database, ensure_database
from tenants.registry import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionResult:
    tenant: str
    created: bool
    revision: str | None


def migrate_tenant(engine: Engine) -> None:
    """Every schema the tenant's database holds, in order: the agreement service's tables,
    then the bus's outbox and inbox beside them (one transaction spans both)."""
    agreement_migrations.upgrade(engine)
    with engine.begin() as connection:
        bus_store.upgrade(connection)


def provision_tenant(
    settings: Settings, tenant: Tenant, *, engine: Engine | None = None
) -> ProvisionResult:
    created = ensure_database(settings, tenant)
    ensure_tenant_keys(settings, tenant.slug)
    provision_tenant_bus(settings, tenant)
    for partner in tenant.partners:
        provision_connector(settings, tenant, partner.kind)
    own_engine = engine is None
    engine = engine or create_tenant_engine(settings, tenant, pool_size=1)
    try:
        migrate_tenant(engine)
        with Session(engine) as session, session.begin():
            sync_offices(session, tenant)
        revision = agreement_migrations.current_revision(engine)
    finally:
        if own_engine:
            engine.dispose()
    log.info("tenant %s provisioned (created=%s, revision=%s)", tenant.slug, created, revision)
    return ProvisionResult(tenant.slug, created, revision)


def provision_all(
    settings: Settings, tenants: list[Tenant], *, parallel: int = 1
) -> list[ProvisionResult]:
    """Provision many tenants; with ``parallel > 1`` in worker processes, so more tenants do
    not stretch an upgrade window proportionally. (Processes, not threads: Alembic keeps its
    migration context in module globals.)"""
    if parallel <= 1 or len(tenants) <= 1:
        return [provision_tenant(settings, tenant) for tenant in tenants]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        return list(pool.map(provision_tenant, [settings] * len(tenants), tenants))


def deprovision_tenant(settings: Settings, tenant: Tenant) -> None:
    """Drop everything the tenant has: databases and roles, its bus vhost and users.
    Keys and secrets under var/secrets stay (an operator removes them deliberately)."""
    for partner in tenant.partners:
        drop_database(settings, tenant, service=SERVICE_CODES[partner.kind])
    drop_database(settings, tenant)
    deprovision_tenant_bus(settings, tenant)
