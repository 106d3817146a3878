"""The entrance: resolves the tenant from the path (/t/<tenant>/) or the host
(<tenant>.<domain>) and dispatches to that tenant's app, created lazily on first use.

One process can serve every tenant or just some; an idle tenant costs nothing until its
first request (no app, no engine, no connection), and at most ``max_apps`` apps stay loaded:
the least recently used one is released when another tenant's app is needed, so hundreds of
tenants do not grow a web process without bound.
"""

from __future__ import annotations

import contextlib
import gc
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.metrics import UNMATCHED, Collector, exposition, http_metrics
from tenants import log_context
from tenants.registry import Registry, Tenant
from tenants.settings import Settings

#: Tenant apps a process keeps loaded at most (least recently used ones are released).
MAX_APPS = 64

#: Apps up to which a new app's objects are frozen with the rest (see ``_freeze_long_lived``).
WARM_APPS = 16

#: Requests after which a process's caches (compiled templates and statements, translations)
#: are warm; see ``_freeze_long_lived``.
WARM_AFTER = 200

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
AppFactory = Callable[[Settings, Tenant], Flask]
#: Releases what an app holds (its database pool) when the process stops serving it.
AppDisposer = Callable[[Flask], None]


#: Headers on the gateway's own answers (health, readiness, metrics, unknown tenant or host):
#: JSON or text that no browser should render, frame, sniff or keep.
GATEWAY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
#: Methods that get a latency label of their own; any other is counted as "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: A correlation id a client or proxy sends along (``X-Request-ID``) is kept for the logs
#: when it is short and plain; otherwise the request gets a new one.
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


#: Where a tenant app leaves the URL rule its request matched, for the latency label.
ROUTE_KEY = "integra.route"


def _remember_route(_exc: BaseException | None) -> None:
    """Teardown of every tenant app: the route template (``/api/v1/clients/<uuid:id>``) into
    the WSGI environ, where the gateway reads it once the app has answered."""
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else UNMATCHED


def _correlation_id(environ: dict[str, Any]) -> str:
    given = environ.get("HTTP_X_REQUEST_ID") or environ.get("HTTP_X_CORRELATION_ID") or ""
    return given if _CORRELATION.match(given) else uuid.uuid4().hex


def _plain(
    start_response: Callable[..., Any],
    status: str,
    body: dict[str, Any] | bytes,
    content_type: str = "application/json",
) -> list[bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(data))), *GATEWAY_HEADERS],
    )
    return [data]


def _refusal(code: str, de: str, en: str) -> dict[str, Any]:
    return {"code": code, "message": {"de": de, "en": en}}


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
        max_apps: int = MAX_APPS,
        scrape_collectors: Iterable[Collector] = (),
    ) -> None:
        self.settings = settings
        self.max_apps = max_apps
        self.registry = registry
        self.app_factory = app_factory
        self.dispose_app = dispose_app
        self.readiness = readiness
        self.scrape_collectors = list(scrape_collectors)
        self.metrics = http_metrics()
        self._apps: OrderedDict[str, Flask] = OrderedDict()
        self._lock = threading.Lock()
        self._mounts: list[tuple[str, str, WSGIApp]] = []
        self._served = itertools.count(1)
        self._entry: WSGIApp = self._dispatch
        if settings.trusted_proxies:
            # Behind a TLS-terminating proxy: scheme, host, port and client address as the
            # proxy saw them (only as many hops as configured are believed).
            hops = settings.trusted_proxies
            self._entry = ProxyFix(self._dispatch, x_for=hops, x_proto=hops, x_host=hops,
                                   x_port=hops)  # fmt: skip

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
            with contextlib.suppress(KeyError):  # released meanwhile: this request has it
                self._apps.move_to_end(slug)  # most recently used
            return app
        tenant = self.registry.get(slug)
        if tenant is None or not tenant.enabled:
            return None
        evicted: list[Flask] = []
        with self._lock:
            app = self._apps.get(slug)
            if app is None:
                app = self.app_factory(self.settings, tenant)
                app.teardown_request(_remember_route)
                self._apps[slug] = app
                while len(self._apps) > self.max_apps:
                    evicted.append(self._apps.popitem(last=False)[1])
                self.metrics.apps.set(len(self._apps))
                if evicted:
                    # a released app sits among the frozen objects: thaw them, so that the
                    # collector's own passes reclaim it (a full collection right here stopped
                    # this request for seconds in a process serving hundreds of tenants)
                    gc.unfreeze()
                    for old in evicted:
                        if self.dispose_app is not None:
                            self.dispose_app(old)  # requests in progress finish on it
                    evicted.clear()
                elif len(self._apps) <= WARM_APPS:
                    # freeze what is alive (a full collection first, ~0.1–0.3 s, only once)
                    _freeze_long_lived(collect=len(self._apps) == 1)
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
        """(tenant slug or None, script name, remaining path).

        A tenant's own host (``<tenant>.<domain>``) serves that tenant alone: every path goes
        to its app, so ``/t/<other>/`` there is no way into another municipality. Other
        allowed hosts (the platform's) route by path, ``/t/<tenant>/``."""
        path: str = environ.get("PATH_INFO", "") or "/"
        domain = self.settings.domain
        host = (environ.get("HTTP_HOST") or "").split(":")[0].lower()
        if domain and host.endswith("." + domain):
            return host[: -len(domain) - 1], "", path
        if path.startswith("/t/"):
            rest = path[3:]
            slug, _, tail = rest.partition("/")
            return slug, f"/t/{slug}", "/" + tail
        return None, "", path

    def host_allowed(self, environ: dict[str, Any]) -> bool:
        """Whether the request's Host (as the trusted proxy passed it on) is one this
        installation answers to: a configured host, the domain or a tenant under it."""
        raw = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").strip().lower()
        host = raw.rsplit(":", 1)[0] if raw.count(":") == 1 or raw.endswith("]") else raw
        if raw.startswith("[") and "]" in raw:
            host = raw[1 : raw.index("]")]
        allowed = self.settings.allowed_hosts
        if "*" in allowed or host in allowed:
            return True
        domain = self.settings.domain
        return domain is not None and (host == domain or host.endswith("." + domain))

    def metrics_allowed(self, environ: dict[str, Any]) -> bool:
        """/metrics holds tenant names and traffic: for a scraper with the token, or from
        the machine itself."""
        token = self.settings.metrics_token
        if token:
            given = environ.get("HTTP_AUTHORIZATION", "")
            return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
        return environ.get("REMOTE_ADDR", "") in LOOPBACK

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self._entry(environ, start_response)

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not self.host_allowed(environ):
            return _plain(
                start_response,
                "400 Bad Request",
                _refusal("unknown_host", "Unbekannter Hostname.", "Unknown host name."),
            )
        if path == "/healthz":
            return _plain(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            report = self.readiness() if self.readiness else {"ready": True}
            status = "200 OK" if report.get("ready") else "503 Service Unavailable"
            return _plain(start_response, status, report)
        if path == "/metrics":
            if not self.metrics_allowed(environ):
                return _plain(
                    start_response,
                    "403 Forbidden",
                    _refusal("metrics_not_public", "Nicht öffentlich.", "Not public."),
                )
            data = exposition(self.scrape_collectors)
            return _plain(start_response, "200 OK", data, CONTENT_TYPE_LATEST)
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
                _refusal("tenant_not_found", "Unbekannte Kommune.", "Unknown municipality."),
            )
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + script_name
        environ["PATH_INFO"] = tail
        if next(self._served) == WARM_AFTER:
            _freeze_long_lived(collect=False)
        assert slug is not None
        return self._timed(app, slug, environ, start_response)

    def _timed(
        self, app: Flask, slug: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Any:
        """Call the tenant's app with the tenant and correlation id bound for its log
        entries; count the request and time it by route template."""
        started = time.perf_counter()
        status_holder: list[str] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        correlation = _correlation_id(environ)
        try:
            with log_context.bound(tenant=slug, correlation_id=correlation):
                return app(environ, recording_start_response)
        finally:
            route = environ.get(ROUTE_KEY, UNMATCHED)
            method = environ.get("REQUEST_METHOD", "GET")
            method = method if method in KNOWN_METHODS else "other"
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            code = status_holder[0][:1] + "xx" if status_holder else "5xx"
            self.metrics.requests.labels(slug, code).inc()
