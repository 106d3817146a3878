"""The entrance: resolves the tenant from the path (/t/<tenant>/) or the host
(<tenant>.<domain>) and dispatches to that tenant's app, created lazily on first use.

One process can serve every tenant or just some; an idle tenant costs nothing until its
first request (no app, no engine, no connection).
"""

from __future__ import annotations

import gc
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from tenants.registry import Registry, Tenant
from tenants.settings import Settings

#: Requests after which a process's caches (compiled templates and statements, translations)
#: are warm; see ``_freeze_long_lived``.
WARM_AFTER = 200

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
AppFactory = Callable[[Settings, Tenant], Flask]
#: Releases what an app holds (its database pool) when the process stops serving it.
AppDisposer = Callable[[Flask], None]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "integra_http_requests",
            "HTTP requests by tenant and status class",
            ["tenant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "integra_http_request_seconds",
            "HTTP request latency",
            ["tenant"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.apps = Gauge(
            "integra_tenant_apps_loaded",
            "Tenant apps created in this process",
            registry=self.registry,
        )


def _plain(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _freeze_long_lived(collect: bool) -> None:
    """Take what is alive now (modules, mappers, templates: ~170,000 objects in a warm
    process) out of the cyclic garbage collector's full collections (``gc.freeze``). Each of
    those walked all of it for ~100 ms, stopping every request of the process: the worst
    latency spikes under the portal benchmark. ``collect`` first clears what is garbage
    already (a pause of its own: only where a request waits anyway, at a tenant's start)."""
    if collect:
        gc.collect()
    gc.freeze()


class TenantDispatcher:
    """WSGI app: ``/t/<tenant>/...`` → the tenant's app with SCRIPT_NAME ``/t/<tenant>``."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        app_factory: AppFactory,
        *,
        dispose_app: AppDisposer | None = None,
        readiness: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.app_factory = app_factory
        self.dispose_app = dispose_app
        self.readiness = readiness
        self.metrics = Metrics()
        self._apps: dict[str, Flask] = {}
        self._lock = threading.Lock()
        self._mounts: list[tuple[str, str, WSGIApp]] = []
        self._served = itertools.count(1)

    def mount(self, prefix: str, app: WSGIApp, *, script_name: str = "") -> None:
        """Serve ``app`` for paths under ``prefix`` (e.g. a connector's callback endpoint
        ``/t/<tenant>/agency/<kind>``, a partner simulator ``/sim/<tenant>/<kind>``).
        ``script_name`` is the part of the path the app sees as its mount point."""
        self._mounts.append((prefix.rstrip("/"), script_name or prefix.rstrip("/"), app))

    def mount_prefixes(self) -> list[str]:
        return [prefix for prefix, _, _ in self._mounts]

    def tenant_app(self, slug: str) -> Flask | None:
        app = self._apps.get(slug)
        if app is not None:
            return app
        tenant = self.registry.get(slug)
        if tenant is None or not tenant.enabled:
            return None
        with self._lock:
            app = self._apps.get(slug)
            if app is None:
                app = self.app_factory(self.settings, tenant)
                self._apps[slug] = app
                self.metrics.apps.set(len(self._apps))
                _freeze_long_lived(collect=True)
        return app

    def loaded_tenants(self) -> list[str]:
        return sorted(self._apps)

    def dispose(self) -> None:
        """Release what every tenant app created so far holds (at shutdown), through the
        ``dispose_app`` hook of the service that built them."""
        if self.dispose_app is None:
            return
        for app in list(self._apps.values()):
            self.dispose_app(app)

    def _resolve(self, environ: dict[str, Any]) -> tuple[str | None, str, str]:
        """(tenant slug or None, script name, remaining path)."""
        path: str = environ.get("PATH_INFO", "") or "/"
        if path.startswith("/t/"):
            rest = path[3:]
            slug, _, tail = rest.partition("/")
            return slug, f"/t/{slug}", "/" + tail
        domain = self.settings.domain
        host = (environ.get("HTTP_HOST") or "").split(":")[0].lower()
        if domain and host.endswith("." + domain):
            return host[: -len(domain) - 1], "", path
        return None, "", path

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _plain(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            report = self.readiness() if self.readiness else {"ready": True}
            status = "200 OK" if report.get("ready") else "503 Service Unavailable"
            return _plain(start_response, status, report)
        if path == "/metrics":
            data = generate_latest(self.metrics.registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [data]
        for prefix, mount_point, mounted in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + mount_point
                environ["PATH_INFO"] = path[len(mount_point) :] or "/"
                return mounted(environ, start_response)
        slug, script_name, tail = self._resolve(environ)
        app = self.tenant_app(slug) if slug else None
        if app is None:
            return _plain(
                start_response,
                "404 Not Found",
                {
                    "code": "tenant_not_found",
                    "message": {
                        "de": "Unbekannte Kommune.",
                        "en": "Unknown municipality.",
                    },
                },
            )
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + script_name
        environ["PATH_INFO"] = tail
        if next(self._served) == WARM_AFTER:
            _freeze_long_lived(collect=False)
        started = time.perf_counter()
        status_holder: list[str] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        try:
            return app(environ, recording_start_response)
        finally:
            assert slug is not None
            self.metrics.latency.labels(slug).observe(time.perf_counter() - started)
            code = status_holder[0][:1] + "xx" if status_holder else "5xx"
            self.metrics.requests.labels(slug, code).inc()
