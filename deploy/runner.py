"""Runs the platform in one process: the gateway with every tenant's app (lazily), after
provisioning; demo data and credentials on the embedded default."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

import click
from sqlalchemy.orm import Session
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from deploy.settings import Settings
from gateway.dispatch import TenantDispatcher
from services.agreements.app import create_app
from tenants.databases import create_tenant_engine
from tenants.provisioning import provision_all
from tenants.registry import Registry

log = logging.getLogger(__name__)


def seed_demo(settings: Settings, registry: Registry) -> dict[str, dict[str, Any]]:
    from deploy.demo import (
        create_demo_credentials,
        save_credentials,
        seed_tenant,
        stored_credentials,
    )

    known = stored_credentials(settings)
    for tenant in registry.enabled():
        engine = create_tenant_engine(settings, tenant, pool_size=1)
        try:
            # Operations expect what a request's session carries: the tenant it belongs to.
            with Session(engine, info={"tenant": tenant.slug}) as session, session.begin():
                seed_tenant(session, tenant)
                entry = None if tenant.slug in known else create_demo_credentials(session)
            if entry is not None:
                save_credentials(settings, tenant.slug, entry)
                known[tenant.slug] = entry
        finally:
            engine.dispose()
    return known


def print_credentials(credentials: dict[str, dict[str, Any]], base: str) -> None:
    click.echo("")
    click.echo("Demo API clients (client credentials; generated for this installation):")
    for slug, entry in sorted(credentials.items()):
        c = entry["counsellor"]
        click.echo(
            f"  {slug:30} counsellor ({c['office']}): {c['client_id']} / {c['client_secret']}"
        )
    click.echo("")
    click.echo(
        f"  token:   curl -u ID:SECRET -d grant_type=client_credentials "
        f"{base}/t/<tenant>/oauth/token"
    )
    click.echo(f"  API:     {base}/t/<tenant>/api/v1/clients  (Authorization: Bearer <token>)")
    click.echo(f"  OpenAPI: {base}/t/<tenant>/api/v1/openapi.json")


def start_background_services(
    settings: Settings, tenants: list[Any], dispatcher: TenantDispatcher, port: int
) -> list[Any]:
    """Per tenant: the agreement service's relay and consumer, a connector per partner
    agency, and a simulator playing each agency (the embedded default has no real ones)."""
    from deploy.services import TenantServices

    started = []
    for tenant in tenants:
        services = TenantServices(settings, tenant, f"http://127.0.0.1:{port}")
        services.start(dispatcher)
        started.append(services)
    click.echo(
        f"Bus: relay and consumer per tenant, {sum(len(t.partners) for t in tenants)} "
        "connectors with partner simulators"
    )
    return started


def run_platform(
    settings: Settings, registry: Registry, *, port: int | None, demo: bool, threads: int
) -> int:
    tenants = registry.enabled()
    click.echo(
        f"Integra: provisioning {len(tenants)} tenants "
        f"({'SQLite under ' + str(settings.var_dir) if settings.embedded else 'PostgreSQL'})"
    )
    provision_all(settings, tenants)
    port = port or settings.port
    if demo:
        print_credentials(seed_demo(settings, registry), f"http://localhost:{port}")
        click.echo(f"  stored in {settings.secrets_dir / 'demo-credentials.json'}")
        from deploy.demo import logins_path, print_logins, seed_demo_logins

        print_logins(seed_demo_logins(settings, tenants), f"http://localhost:{port}")
        click.echo(f"  stored in {logins_path(settings)}")
    dispatcher = TenantDispatcher(settings, registry, create_app)
    background = start_background_services(settings, tenants, dispatcher, port)
    connections: dict[int, Any] = {}
    server = create_server(
        dispatcher,
        map=connections,
        host=settings.host,
        port=port,
        threads=threads,
        ident="integra",
    )
    stop = threading.Event()

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: shutting down", signum)
        # Background services first: simulators stop answering before the HTTP side closes.
        for services in background:
            services.signal_stop()
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    click.echo(f"Serving {len(tenants)} tenants on http://{settings.host}:{port}/t/<tenant>/")
    try:
        serve_until_stopped(server, connections, stop)
    finally:
        for services in background:
            services.signal_stop()
        for services in background:
            services.stop()
        for slug in dispatcher.loaded_tenants():
            app = dispatcher.tenant_app(slug)
            if app is not None:
                app.extensions["integra"].engine.dispose()
    return 0


def serve_until_stopped(
    server: Any, connections: dict[int, Any], stop: threading.Event, *, grace: float = 10.0
) -> None:
    """Run waitress's event loop until ``stop`` is set, then drain: stop accepting, let the
    requests in progress finish (``grace`` seconds at most) and close every connection.

    Not ``server.run()``: that returns only once no connection is left, so after SIGTERM one
    idle keep-alive connection (a browser keeps several) held the process up to waitress's
    two-minute channel timeout.
    """
    while not stop.is_set():
        wasyncore.loop(timeout=1.0, map=connections, count=1)
    for listener in [c for c in connections.values() if isinstance(c, BaseWSGIServer)]:
        # Only the listening socket: the worker threads still wake the loop through the trigger.
        wasyncore.dispatcher.close(listener)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        channels = [c for c in list(connections.values()) if isinstance(c, HTTPChannel)]
        if not channels:
            break
        for channel in channels:
            if not channel.requests:
                channel.will_close = True  # what waitress's own idle-timeout maintenance does
        wasyncore.loop(timeout=0.05, map=connections, count=1)
    server.task_dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
    wasyncore.close_all(connections)
