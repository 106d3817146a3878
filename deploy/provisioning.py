"""Provisioning a tenant: everything each service needs before it can start, composed here.

The tenant's bus key ring, its bus (its queues in the shared RabbitMQ vhost with its own
broker users, or the embedded bus file), the agreement service's database (schema, outbox
and inbox, offices from the registry) and each connector's database. Every step is
idempotent: running it again migrates to the newest schema and refreshes the offices,
touching nothing else.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from deploy.wiring import bus_transport
from messaging.broker_admin import provision_workers
from messaging.signing import ensure_tenant_keys
from messaging.transports.base import Transport
from services.agreements import runtime as agreements
from services.connectors import runtime as connectors
from tenants.databases import drop_database
from tenants.registry import Tenant
from tenants.secrets import private_dir
from tenants.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionResult:
    tenant: str
    created: bool
    revision: str | None


def provision_tenant(
    settings: Settings,
    tenant: Tenant,
    *,
    engine: Engine | None = None,
    transport: Transport | None = None,
) -> ProvisionResult:
    private_dir(settings.var_dir)
    ensure_tenant_keys(settings, tenant.slug)
    (transport or bus_transport(settings)).provision(tenant)
    connectors.provision(settings, tenant)
    created, revision = agreements.provision(settings, tenant, engine=engine)
    log.info("tenant %s provisioned (created=%s, revision=%s)", tenant.slug, created, revision)
    return ProvisionResult(tenant.slug, created, revision)


def provision_all(
    settings: Settings, tenants: list[Tenant], *, parallel: int = 1
) -> list[ProvisionResult]:
    """Provision many tenants; with ``parallel > 1`` in worker processes, so more tenants do
    not stretch an upgrade window proportionally. (Processes, not threads: Alembic keeps its
    migration context in module globals.)"""
    if settings.broker_url:
        provision_workers(settings)  # the platform workers' broker users, one per role
    if parallel <= 1 or len(tenants) <= 1:
        return [provision_tenant(settings, tenant) for tenant in tenants]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        return list(pool.map(provision_tenant, [settings] * len(tenants), tenants))


def deprovision_tenant(settings: Settings, tenant: Tenant) -> None:
    """Drop everything the tenant has: databases and roles, its queues and broker users.
    Keys and secrets under var/secrets stay (an operator removes them deliberately)."""
    connectors.deprovision(settings, tenant)
    drop_database(settings, tenant)
    bus_transport(settings).deprovision(tenant)
