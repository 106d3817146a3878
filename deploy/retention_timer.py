"""The daily retention run under ``integra up``: one timer thread for all tenants.

Hundreds of tenants are the target, so nothing here costs a tenant anything while it waits:
one thread sleeps until the next run (03:00 UTC by default), then applies each tenant's rule
in turn over a short-lived connection of its own (opened, used, disposed), and sleeps again.
A tenant that fails is logged and the others go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from services.agreements.retention import RetentionResult, apply_retention
from tenants.databases import create_tenant_engine
from tenants.registry import Tenant
from tenants.settings import Settings

log = logging.getLogger(__name__)

ACTOR = "service:retention-daily"


def run_retention(
    settings: Settings,
    tenant: Tenant,
    *,
    as_of: date,
    actor: str,
    dry_run: bool = False,
) -> RetentionResult:
    """Apply one tenant's rule in a transaction of its own (committed unless dry run)."""
    engine = create_tenant_engine(settings, tenant, pool_size=1)
    try:
        with Session(engine, info={"tenant": tenant.slug}) as session:
            result = apply_retention(
                session, tenant.slug, tenant.retention, as_of=as_of, actor=actor,
                dry_run=dry_run,
            )  # fmt: skip
            if dry_run:
                session.rollback()
            else:
                session.commit()
            return result
    finally:
        engine.dispose()


def next_run_after(moment: datetime, at: time) -> datetime:
    candidate = datetime.combine(moment.date(), at, tzinfo=UTC)
    return candidate if candidate > moment else candidate + timedelta(days=1)


class RetentionTimer:
    """Starts one daemon thread; ``stop()`` wakes it and waits for it."""

    def __init__(
        self,
        settings: Settings,
        tenants: Sequence[Tenant],
        *,
        at: time = time(3, 0),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.tenants = list(tenants)
        self.at = at
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def run_once(self) -> list[RetentionResult]:
        today = self.clock().date()
        results = []
        for tenant in self.tenants:
            if self._stop.is_set():
                break
            try:
                result = run_retention(self.settings, tenant, as_of=today, actor=ACTOR)
            except Exception:
                log.exception("retention run failed for %s", tenant.slug)
                continue
            results.append(result)
            if result.cases:
                log.info("retention %s: %s %d case(s) closed before %s", tenant.slug,
                         result.action, result.cases, result.closed_before)  # fmt: skip
        self.runs += 1
        return results

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            wait = (next_run_after(now, self.at) - now).total_seconds()
            if self._stop.wait(max(wait, 0.0)):
                return
            self.run_once()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="integra-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
