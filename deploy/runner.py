"""Runs the platform: the gateway with every tenant's app (lazily), after provisioning, and
the bus services; demo data and credentials on the embedded default. One process, or a
services process with several web processes (``deploy.web``)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import click
from sqlalchemy.orm import Session
from waitress.server import create_server

from deploy.observability import prepare_metrics
from deploy.provisioning import provision_all
from deploy.retention_timer import RetentionTimer
from deploy.services import start_background_services
from deploy.web import (
    WebWorkers,
    listening_socket,
    serve_socket,
    serve_until_stopped,
    stop_on_signals,
    stop_with_parent,
    worker_command,
)
from deploy.wiring import bus_transport, tenant_dispatcher
from gateway.forward import Forward
from messaging.runtime import BusRuntime
from services.agreements.context import DemoMark
from tenants.databases import create_tenant_engine
from tenants.registry import Registry
from tenants.settings import Settings

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


def runs_simulators(settings: Settings, *, demo: bool, simulate: bool) -> bool:
    """Partner simulators play the agencies only where asked: ``--simulate``, or the embedded
    default (SQLite, embedded bus) with demo data. Otherwise every connector delivers to the
    agency its registry entry names."""
    return simulate or (demo and settings.embedded and not settings.broker_url)


def demo_mark(*, demo: bool, simulators: bool) -> DemoMark | None:
    """What the portal's "Demo" banner says, if anything."""
    if simulators:
        return DemoMark.SIMULATED
    return DemoMark.DATA if demo else None


def default_workers(settings: Settings) -> int:
    """One process on the embedded default (SQLite files, a laptop); on PostgreSQL one web
    process per core, at most four."""
    if settings.embedded:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def default_threads(workers: int) -> int:
    """Threads per web process. Several threads share one process's interpreter lock: with
    several processes, 4 each measured better than 8 (bench/portal_bench.py, 2 cores: the
    agreement page 61 → 110 req/s at saturation), as the pages spend most of their time in
    Python, not waiting for the database."""
    return 8 if workers == 1 else 4


def run_platform(
    settings: Settings,
    registry: Registry,
    *,
    port: int | None,
    demo: bool,
    simulate: bool = False,
    threads: int | None = None,
    workers: int | None = None,
) -> int:
    # Before any metric exists: every process of this run counts into var/metrics, and
    # /metrics adds them up, whichever web process answers.
    prepare_metrics(settings)
    tenants = registry.enabled()
    simulators = runs_simulators(settings, demo=demo, simulate=simulate)
    mark = demo_mark(demo=demo, simulators=simulators)
    workers = workers or default_workers(settings)
    threads = threads or default_threads(workers)
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
    if not settings.embedded:
        # PostgreSQL + RabbitMQ: web processes and a worker per bus role, supervised
        from deploy.supervisor import run_processes

        return run_processes(
            settings, registry, port=port, workers=workers, threads=threads,
            simulate=simulators, demo=mark,
        )  # fmt: skip
    dispatcher = tenant_dispatcher(settings, registry, demo=mark)
    connections: dict[int, Any] = {}
    web: WebWorkers | None = None
    if workers == 1:
        server = create_server(
            dispatcher, map=connections, host=settings.host, port=port, threads=threads,
            ident="integra",
        )  # fmt: skip
        runtime, background = start_background_services(
            settings, registry, dispatcher, f"http://127.0.0.1:{port}", simulate=simulators
        )
    else:
        # The public port goes to the web workers; this process keeps the bus services and
        # serves their webhook endpoints on a loopback port the workers forward to.
        public = listening_socket(settings.host, port)
        server = create_server(
            dispatcher, map=connections, host="127.0.0.1", port=0, threads=threads,
            ident="integra-services",
        )  # fmt: skip
        internal = f"http://127.0.0.1:{server.effective_port}"
        runtime, background = start_background_services(
            settings, registry, dispatcher, internal, simulate=simulators
        )
        prefixes = dispatcher.mount_prefixes()
        web = WebWorkers(
            public,
            workers,
            lambda fd: worker_command(
                fd, threads=threads, forward_to=internal, prefixes=prefixes, demo=mark
            ),
        )
        web.start()
    retention = RetentionTimer(settings, tenants)  # one thread for all tenants, daily
    retention.start()
    stop = threading.Event()

    def stop_services() -> None:
        # Background services first: simulators stop answering before the HTTP side closes.
        for services in background:
            services.signal_stop()

    stop_on_signals(stop, stop_services)
    click.echo(
        f"Serving {len(tenants)} tenants on http://{settings.host}:{port}/t/<tenant>/"
        + (f" ({workers} web processes)" if web else "")
    )
    status = 0

    def supervise() -> None:
        nonlocal status
        if web is None:
            return
        try:
            web.check()
        except RuntimeError as exc:
            click.echo(f"integra: {exc}", err=True)
            status = 1
            stop.set()

    try:
        serve_until_stopped(server, connections, stop, tick=supervise)
    finally:
        if web is not None:
            web.stop()
        stop_services()
        retention.stop()
        for services in background:
            services.stop()
        runtime.stop()
        dispatcher.dispose()
    return status


def commit_relays(settings: Settings, registry: Registry) -> BusRuntime:
    """A web process publishes what its requests commit right after the commit: every
    tenant's agreement relay as a job on two shared threads, run only by the commit hook
    (the worker-agreements process sweeps for anything a web process missed)."""
    from messaging.relay import OutboxRelay

    transport = bus_transport(settings)
    runtime = BusRuntime(transport, threads=2, sweep_interval=3600.0).start()
    for tenant in registry.enabled():
        engine = create_tenant_engine(settings, tenant)
        relay = OutboxRelay.for_tenant(transport, tenant, engine)
        runtime.add_relay((tenant.slug, "agreements.relay"), relay, start=False)
    return runtime


def run_web_worker(
    settings: Settings,
    registry: Registry,
    *,
    fd: int,
    parent: int | None,
    threads: int,
    forward_to: str,
    prefixes: list[str],
    demo: DemoMark | None = None,
) -> int:
    """One web process of ``integra up --workers N``: the gateway on the inherited socket,
    the services process's paths forwarded to it."""
    dispatcher = tenant_dispatcher(settings, registry, demo=demo)
    relays = None if settings.embedded else commit_relays(settings, registry)
    if forward_to:
        forward = Forward(forward_to)
        for prefix in prefixes:
            dispatcher.mount(prefix, forward)
    stop = threading.Event()
    stop_on_signals(stop)
    if parent:
        stop_with_parent(stop, parent)
    try:
        serve_socket(dispatcher, socket.socket(fileno=fd), threads=threads, stop=stop)
    finally:
        if relays is not None:
            relays.stop()
        dispatcher.dispose()
    return 0
