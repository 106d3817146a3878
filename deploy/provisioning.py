"""Provisioning a tenant: everything each service needs before it can start, composed here.

The tenant's bus key ring, the agreement service's database (schema, outbox and inbox,
offices from the registry), each connector's database, and its bus (its queues in the shared
RabbitMQ vhost with its own broker users, or the embedded bus file). Every step is idempotent:
running it again migrates to the newest schema and refreshes the offices, touching nothing
else.

The steps are named and each knows how to undo itself, so adding a new tenant
(:func:`provision_new_tenant`) can roll back what it created when PostgreSQL or the broker
refuses a later step, and say which step failed. The bus comes last: it is the step most likely
to be refused (another machine), and everything before it is then rolled back too.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, TextClause, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from deploy.tenant_data import store_present
from deploy.wiring import bus_transport
from messaging import store as bus_store
from messaging import topology
from messaging.broker_admin import BrokerAdmin, provision_workers
from messaging.signing import ensure_tenant_keys
from messaging.transports.base import Transport
from messaging.transports.rabbitmq import RabbitMQTransport
from services.agreements import migrate as agreements_migrate
from services.agreements.operations.offices import sync_offices
from services.agreements.runtime import migrate_tenant
from services.connectors import runtime as connectors
from services.connectors import store as connector_store
from services.connectors.runtime import provision_connector
from tenants.databases import create_tenant_engine, drop_database, ensure_database
from tenants.migrations import MigrationHistory
from tenants.registry import Tenant
from tenants.secrets import private_dir
from tenants.settings import Settings
from tenants.vocabulary import SERVICE_CODES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionResult:
    tenant: str
    created: bool
    revision: str | None
    #: whether any of the tenant's stores was behind its newest migration
    migrated: bool = True


class ProvisioningFailed(Exception):
    """A provisioning step was refused; what the run had created is rolled back."""

    def __init__(
        self, tenant: str, step: str, cause: BaseException, rolled_back: list[str], left: list[str]
    ) -> None:
        self.tenant, self.step, self.cause = tenant, step, cause
        self.rolled_back, self.left = rolled_back, left
        message = f"{tenant}: step '{step}' failed: {type(cause).__name__}: {cause}"
        message += "; rolled back: " + (", ".join(rolled_back) or "nothing had been created")
        if left:
            message += "; COULD NOT roll back (remove by hand): " + "; ".join(left)
        super().__init__(message)


@dataclass
class Step:
    """One provisioning step. ``run`` returns True if it created the thing (rather than
    finding it); ``undo`` removes what the step created, if anything (True if it did)."""

    name: str
    run: Callable[[], bool]
    undo: Callable[[], bool]


@dataclass
class _Outcome:
    created: list[Step] = field(default_factory=list)
    revision: str | None = None
    database_created: bool = False
    migrated: bool = False


#: The migration histories each store of a tenant holds (see the services' runtime modules).
AGREEMENT_HISTORIES = (agreements_migrate.HISTORY, bus_store.HISTORY)
CONNECTOR_HISTORIES = (connector_store.HISTORY, bus_store.HISTORY)


@cache
def _heads(history: MigrationHistory) -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(history.config()).get_heads())


MISSING, BEHIND, CURRENT = "missing", "behind", "current"


def _version_query(table: str) -> TextClause:
    return text(f'SELECT version_num FROM "{table}"')  # noqa: S608 - a declared table name


def store_state(engine: Engine, histories: tuple[MigrationHistory, ...]) -> str:
    """Whether the store reached by ``engine`` is missing (no schema, role or tables yet),
    behind, or current (every history at its head): one short transaction of a catalog
    lookup and a read per version table, where ``ensure_database`` takes a cluster-wide lock
    and two connections and Alembic reads its scripts again (what makes ``migrate --all``
    over hundreds of tenants slow)."""
    try:
        with engine.connect() as connection:
            # has_table per name, not get_table_names: PostgreSQL finds a name by index,
            # while listing a schema's tables scans all of pg_class (every tenant's tables)
            inspector = inspect(connection)
            revisions = [
                connection.execute(_version_query(h.version_table)).scalar()
                if inspector.has_table(h.version_table)
                else None
                for h in histories
            ]
    except DBAPIError:  # no role, schema or database yet
        return MISSING
    if revisions[0] is None:
        return MISSING
    current = all(rev in _heads(h) for rev, h in zip(revisions, histories, strict=True))
    return CURRENT if current else BEHIND


def _bus_present(settings: Settings, transport: Transport, tenant: Tenant) -> bool:
    if isinstance(transport, RabbitMQTransport):
        users = BrokerAdmin.from_settings(settings).request("GET", "users") or []
        own = topology.tenant_user(settings.broker_vhost, tenant)
        return any(u.get("name") == own for u in users)
    return Path(transport.url(tenant).removeprefix("sqla+sqlite:///")).exists()


def _steps(
    settings: Settings,
    tenant: Tenant,
    transport: Transport,
    engine: Engine | None,
    out: _Outcome,
    quick: bool = False,
) -> list[Step]:
    """The steps in order. ``quick``: each store's state is looked at first; a current one
    is left alone, one behind is upgraded, and only a missing one goes through
    ``ensure_database`` (DDL under the cluster-wide lock). Otherwise every store is ensured
    and upgraded."""
    secrets = settings.tenant_secrets_dir(tenant.slug)
    found: dict[str, bool] = {}  # what a step found in place: its undo leaves that alone

    def keys() -> bool:
        found["keys"] = secrets.exists()
        private_dir(settings.var_dir)
        ensure_tenant_keys(settings, tenant.slug)
        return not found["keys"]

    def remove_keys() -> bool:
        if found.get("keys", True):
            return False
        shutil.rmtree(secrets)
        return True

    def connector(kind: str) -> Step:
        service = SERVICE_CODES[kind]

        def run() -> bool:
            state = MISSING
            if quick:
                own = create_tenant_engine(settings, tenant, pool_size=1, service=service)
                try:
                    state = store_state(own, CONNECTOR_HISTORIES)
                    if state == BEHIND:
                        for history in CONNECTOR_HISTORIES:
                            with own.begin() as connection:
                                history.upgrade(connection)
                finally:
                    own.dispose()
            out.migrated |= state != CURRENT
            if state != MISSING:
                return False
            created = ensure_database(settings, tenant, service=service)
            provision_connector(settings, tenant, kind)
            return created or quick

        return Step(f"database of the {kind} connector", run, remove_database(service))

    def agreements() -> bool:
        # before the engine: an engine on SQLite creates the file
        created = False if quick else ensure_database(settings, tenant)
        own = engine or create_tenant_engine(settings, tenant, pool_size=1)
        try:
            state = store_state(own, AGREEMENT_HISTORIES) if quick else MISSING
            if quick and state == MISSING:
                ensure_database(settings, tenant)
                created = True
            if state != CURRENT:
                migrate_tenant(own)
                out.migrated = True
            with Session(own) as session, session.begin():
                sync_offices(session, tenant)
            out.revision = agreements_migrate.current_revision(own)
        finally:
            if engine is None:
                own.dispose()
        out.database_created = created
        return created

    def bus() -> bool:
        found["bus"] = _bus_present(settings, transport, tenant)
        transport.provision(tenant)
        return not found["bus"]

    def remove_bus() -> bool:
        if found.get("bus", True):
            return False
        transport.deprovision(tenant)
        return True

    def remove_database(service: str | None) -> Callable[[], bool]:
        def undo() -> bool:
            if not store_present(settings, tenant, service):
                return False  # refused before it created anything
            drop_database(settings, tenant, service=service)
            return True

        return undo

    bus_where = f", vhost {settings.broker_vhost}" if settings.broker_url else ""
    return [
        Step("keys", keys, remove_keys),
        *(connector(partner.kind) for partner in tenant.partners),
        Step("database of the agreement service", agreements, remove_database(None)),
        Step(f"bus ({transport.name}{bus_where})", bus, remove_bus),
    ]  # fmt: skip


def provision_tenant(
    settings: Settings,
    tenant: Tenant,
    *,
    engine: Engine | None = None,
    transport: Transport | None = None,
    quick: bool = False,
) -> ProvisionResult:
    """Create what is missing and migrate what is there (idempotent; no rollback: a step
    that fails leaves the earlier ones in place, as a later run needs them anyway).
    ``quick``: skip the stores already at their newest migration (``migrate --all``)."""
    out = _Outcome()
    transport = transport or bus_transport(settings)
    for step in _steps(settings, tenant, transport, engine, out, quick):
        step.run()
    log.info("tenant %s provisioned (created=%s)", tenant.slug, out.database_created)
    return ProvisionResult(tenant.slug, out.database_created, out.revision, out.migrated)


def provision_all(settings: Settings, tenants: list[Tenant]) -> list[ProvisionResult]:
    """Provision many tenants one after the other (``integra up``); ``integra migrate``
    runs them in parallel worker processes instead (:mod:`deploy.migrate_all`)."""
    if settings.broker_url:
        provision_workers(settings)  # the platform workers' broker users, one per role
    transport = bus_transport(settings)
    return [provision_tenant(settings, t, transport=transport, quick=True) for t in tenants]


def provision_new_tenant(
    settings: Settings, tenant: Tenant, *, transport: Transport | None = None
) -> ProvisionResult:
    """:func:`provision_tenant` for a tenant being added: if a step is refused, everything this
    run created (and only that) is removed again, in reverse order, and
    :class:`ProvisioningFailed` names the step, the cause and what was rolled back."""
    out = _Outcome()
    for step in _steps(settings, tenant, transport or bus_transport(settings), None, out):
        try:
            if step.run():
                out.created.append(step)
        except Exception as exc:
            # a half-done step may have created part of its thing: undo it too (each undo
            # leaves alone what its step found in place; a new tenant's databases were not)
            rolled_back, left = _roll_back([*out.created, step])
            raise ProvisioningFailed(tenant.slug, step.name, exc, rolled_back, left) from exc
    return ProvisionResult(tenant.slug, out.database_created, out.revision, out.migrated)


def _roll_back(steps: list[Step]) -> tuple[list[str], list[str]]:
    done: list[str] = []
    left: list[str] = []
    for step in reversed(steps):
        try:
            if step.undo():
                done.append(step.name)
        except Exception as exc:  # report it; the operator must know what is left over
            left.append(f"{step.name} ({type(exc).__name__}: {exc})")
    return done, left


def deprovision_tenant(settings: Settings, tenant: Tenant) -> None:
    """Drop everything the tenant has: databases and roles, its queues and broker users.
    Keys and secrets under var/secrets stay (an operator removes them deliberately)."""
    connectors.deprovision(settings, tenant)
    drop_database(settings, tenant)
    bus_transport(settings).deprovision(tenant)
