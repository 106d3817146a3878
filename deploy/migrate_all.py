"""``integra migrate --all``: every tenant brought to the newest schema by a bounded pool of
worker processes, so hundreds of tenants do not stretch an upgrade window proportionally.

Processes, not threads: Alembic keeps its migration context in module globals, and two cores
run two interpreters at once. The workers are forked where the platform allows it (Linux): a
spawned worker first imports the whole platform again, seconds on a busy machine, before its
first tenant. Each worker reuses its process's shared pool of the shard
database (tenants.databases), and a tenant already at its newest migration costs one short
transaction per store (``provision_tenant(quick=True)``): no DDL and no turn at the
cluster-wide advisory lock that ``ensure_database`` takes. A tenant that fails is reported
with its error while the others go on; the caller decides the exit status.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from tenants.databases import dispose_shared_engines
from tenants.registry import Tenant
from tenants.settings import Settings

#: Tenants of one worker task: fewer round trips between the processes than one per tenant,
#: small enough that the progress bar moves and the workers share the load evenly.
BATCH = 8


@dataclass(frozen=True)
class MigrationOutcome:
    tenant: str
    state: str  # created | migrated | up to date | failed
    revision: str | None
    seconds: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def default_workers() -> int:
    """Two per core, at most 8: a worker waits on PostgreSQL about half of its time."""
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


def migrate_tenant(settings: Settings, tenant: Tenant) -> MigrationOutcome:
    """One tenant, never raising: a failure is an outcome with the error's text."""
    from deploy.provisioning import provision_tenant

    start = time.perf_counter()
    try:
        result = provision_tenant(settings, tenant, quick=True)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        return MigrationOutcome(tenant.slug, "failed", None, time.perf_counter() - start, error)
    state = "created" if result.created else "migrated" if result.migrated else "up to date"
    return MigrationOutcome(tenant.slug, state, result.revision, time.perf_counter() - start)


def _migrate_batch(settings: Settings, tenants: list[Tenant]) -> list[MigrationOutcome]:
    return [migrate_tenant(settings, tenant) for tenant in tenants]


def _batches(tenants: list[Tenant], size: int) -> Iterator[list[Tenant]]:
    for i in range(0, len(tenants), size):
        yield tenants[i : i + size]


def migrate_tenants(
    settings: Settings,
    tenants: list[Tenant],
    *,
    workers: int | None = None,
    on_outcome: Callable[[MigrationOutcome], None] | None = None,
) -> list[MigrationOutcome]:
    """Migrate ``tenants`` with at most ``workers`` processes; ``on_outcome`` sees each
    tenant's outcome as it arrives (the progress bar). Returns outcomes in registry order."""
    workers = workers or default_workers()
    report = on_outcome or (lambda _outcome: None)
    outcomes: dict[str, MigrationOutcome] = {}
    if workers <= 1 or len(tenants) <= 1:
        for tenant in tenants:
            outcomes[tenant.slug] = outcome = migrate_tenant(settings, tenant)
            report(outcome)
    else:
        size = max(1, min(BATCH, len(tenants) // (workers * 4)))
        # no pooled connection may be shared with a forked child
        dispose_shared_engines()
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures: dict[Future[list[MigrationOutcome]], list[Tenant]] = {
                pool.submit(_migrate_batch, settings, batch): batch
                for batch in _batches(tenants, size)
            }
            for future in as_completed(futures):
                try:
                    batch_outcomes = future.result()
                except Exception as exc:  # the worker process itself died
                    batch_outcomes = [
                        MigrationOutcome(t.slug, "failed", None, 0.0, f"worker lost: {exc}")
                        for t in futures[future]
                    ]
                for outcome in batch_outcomes:
                    outcomes[outcome.tenant] = outcome
                    report(outcome)
    return [outcomes[t.slug] for t in tenants]
