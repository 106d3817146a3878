"""What the composition root adds to the gateway's health and metrics: the metrics folder
shared by an installation's processes, readiness (database and broker) and the outbox lag
per tenant, read at scrape time.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from messaging.store import OutboxMessage
from tenants.databases import create_tenant_engine, shard_url, sqlite_path, uses_sqlite
from tenants.registry import Registry, Tenant
from tenants.settings import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir(settings: Settings) -> Path:
    """The folder every process of the installation writes its metrics to: the one the
    environment names (systemd, Kubernetes), else ``var/metrics``."""
    named = os.environ.get(MULTIPROC_ENV)
    return Path(named) if named else settings.var_dir / "metrics"


def clean_metrics_dir(folder: Path) -> None:
    """Empty ``folder`` (counters of a former run would add to this one's), keep it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def use_metrics_dir(folder: Path) -> None:
    """Put this process (and the processes it starts, through the environment) in
    prometheus_client's multiprocess mode, writing to ``folder``. Call before the first
    metric is created; prometheus_client picks the mode when it is imported, so it is
    picked again here."""
    os.environ[MULTIPROC_ENV] = str(folder)
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


def prepare_metrics(settings: Settings) -> Path:
    """``integra up``: an empty metrics folder under var/ (or the one named), in use."""
    folder = metrics_dir(settings)
    clean_metrics_dir(folder)
    use_metrics_dir(folder)
    return folder


def _oldest_unsent(engine: Engine) -> datetime | None:
    with Session(engine) as session:
        oldest = session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.sent_at.is_(None))
        )
    if isinstance(oldest, str):  # SQLite returns the aggregate unconverted
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return oldest


class OutboxLagCollector:
    """``integra_outbox_lag_seconds{tenant}``: age of the tenant's oldest unsent outbox
    message (agreement service and connectors), 0 when all is sent; read from the databases
    at scrape time, so a relay that died shows as growing lag, not as a stale value. At most
    one reading per ``min_interval`` seconds; engines are opened on the first scrape."""

    def __init__(self, settings: Settings, registry: Registry, *, min_interval: float = 10.0):
        self.settings = settings
        self.registry = registry
        self.min_interval = min_interval
        self._engines: dict[tuple[str, str | None], Engine] = {}
        self._last: tuple[float, dict[str, float]] = (0.0, {})
        self._lock = threading.Lock()

    def _engine(self, tenant: Tenant, service: str | None) -> Engine | None:
        """The engine of the tenant's (or its service's) database; None for a SQLite file
        not created yet (a scrape creates nothing)."""
        key = (tenant.slug, service)
        engine = self._engines.get(key)
        if engine is None:
            if (
                uses_sqlite(self.settings, tenant)
                and not sqlite_path(self.settings, tenant, service).exists()
            ):
                return None
            engine = create_tenant_engine(self.settings, tenant, pool_size=1, service=service)
            self._engines[key] = engine
        return engine

    def lags(self) -> dict[str, float]:
        with self._lock:
            taken, lags = self._last
            if time.monotonic() - taken < self.min_interval:
                return lags
            now = datetime.now(UTC)
            lags = {}
            for tenant in self.registry.enabled():
                services = [None, *sorted({p.kind for p in tenant.partners})]
                oldest: list[datetime] = []
                for service in services:
                    engine = self._engine(tenant, service)
                    if engine is None:
                        continue
                    try:
                        found = _oldest_unsent(engine)
                    except Exception:
                        log.debug(
                            "outbox lag of %s/%s unknown", tenant.slug, service, exc_info=True
                        )
                        continue
                    if found is not None:
                        oldest.append(found)
                lags[tenant.slug] = max(0.0, (now - min(oldest)).total_seconds()) if oldest else 0.0
            self._last = (time.monotonic(), lags)
            return lags

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "integra_outbox_lag_seconds",
            "Age of the oldest unsent outbox message per tenant (0: all sent)",
            labels=["tenant"],
        )
        for slug, lag in sorted(self.lags().items()):
            family.add_metric([slug], lag)
        yield family

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def _check_database(settings: Settings, registry: Registry) -> Callable[[], None]:
    """SELECT 1 on each PostgreSQL server the enabled tenants use (its own connection, so a
    full pool does not read as an outage); on the embedded default, var/tenants is there."""
    urls = {
        shard_url(settings, t).render_as_string(hide_password=False)
        for t in registry.enabled()
        if not uses_sqlite(settings, t)
    }
    engines = [
        create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
        for url in sorted(urls)
    ]

    def check() -> None:
        for engine in engines:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        if not engines and not (settings.var_dir / "tenants").is_dir():
            raise RuntimeError("var/tenants is missing")

    return check


def _check_broker(settings: Settings) -> Callable[[], None]:
    """RabbitMQ: an AMQP connection opens (and is closed); embedded: var/bus is there."""

    def check() -> None:
        if not settings.broker_url:
            if not (settings.var_dir / "bus").is_dir():
                raise RuntimeError("var/bus is missing")
            return
        import pika

        parameters = pika.URLParameters(settings.broker_url)
        parameters.socket_timeout = 3
        parameters.blocked_connection_timeout = 3
        parameters.connection_attempts = 1
        pika.BlockingConnection(parameters).close()

    return check


class Readiness:
    """``/readyz``: whether the database and the broker answer; 503 names the one that
    failed. The answer is kept ``cache_seconds`` (probes from several sources must not each
    open connections); details go to the log, not to the unauthenticated answer."""

    def __init__(self, settings: Settings, registry: Registry, *, cache_seconds: float = 2.0):
        self.checks: dict[str, Callable[[], None]] = {
            "database": _check_database(settings, registry),
            "broker": _check_broker(settings),
        }
        self.cache_seconds = cache_seconds
        self._last: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            if self._last and time.monotonic() - self._last[0] < self.cache_seconds:
                return self._last[1]
            results: dict[str, str] = {}
            for name, check in self.checks.items():
                try:
                    check()
                    results[name] = "ok"
                except Exception as exc:
                    log.warning("readiness: %s unavailable: %s", name, _safe(exc))
                    results[name] = "unavailable"
            failed = [name for name, result in results.items() if result != "ok"]
            report = {"ready": not failed, "checks": results, "failed": failed}
            self._last = (time.monotonic(), report)
            return report


def _safe(exc: Exception) -> str:
    """The exception for the log, without a password a URL in it may carry."""
    message = f"{type(exc).__name__}: {exc}"
    for word in message.split():
        parts = urlsplit(word.strip("'\"(),"))
        if parts.password:
            message = message.replace(parts.password, "***")
    return message[:500]
