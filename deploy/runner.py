"""Runs the platform in one process: the gateway with every tenant's app (lazily), after
provisioning; demo data and credentials on the embedded default."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

import click
from sqlalchemy.orm import Session
from waitress.server import create_server

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
            with Session(engine) as session, session.begin():
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
    dispatcher = TenantDispatcher(settings, registry, create_app)
    server = create_server(
        dispatcher,
        host=settings.host,
        port=port,
        threads=threads,
        ident="integra",
    )
    stop = threading.Event()

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: shutting down", signum)
        stop.set()
        server.close()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    click.echo(f"Serving {len(tenants)} tenants on http://{settings.host}:{port}/t/<tenant>/")
    try:
        server.run()
    except (OSError, ValueError):
        if not stop.is_set():
            raise
    return 0
