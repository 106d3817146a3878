"""``integra up``, its web workers, and ``integra connector run``: running the platform."""

from __future__ import annotations

import sys

import click

from tenants.vocabulary import AGENCY_KINDS

from .base import Context, main, pass_context


@main.command("up")
@click.option("--port", type=int, help="Default INTEGRA_PORT (8000).")
@click.option("--no-demo", is_flag=True, help="Do not seed demo data.")
@click.option(
    "--simulate",
    is_flag=True,
    help="Partner simulators play the agencies (default only on the embedded default with "
    "demo data); without, connectors deliver to the agencies the registry names.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    help="Threads per web process (default: 8 with one process, else 4).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Web processes sharing the port (default: 1 on the embedded default, else one per "
    "core, at most 4).",
)
@pass_context
def up(
    ctx: Context,
    port: int | None,
    no_demo: bool,
    simulate: bool,
    threads: int | None,
    workers: int | None,
) -> None:
    """Run the platform: every enabled tenant, provisioned on first start."""
    from deploy.runner import run_platform

    sys.exit(
        run_platform(
            ctx.settings,
            ctx.registry,
            port=port,
            demo=not no_demo,
            simulate=simulate,
            threads=threads,
            workers=workers,
        )
    )


@main.command("web-worker", hidden=True)
@click.option("--fd", type=int, required=True, help="The inherited listening socket.")
@click.option("--parent", type=int, required=True, help="The services process's pid.")
@click.option("--threads", type=int, default=8)
@click.option("--forward-to", required=True, help="The services process, http://host:port.")
@click.option("--forward", "prefixes", multiple=True, help="A path prefix served there.")
@click.option("--demo", type=click.Choice(["simulated", "data"]), help="The portal's demo mark.")
@pass_context
def web_worker(
    ctx: Context,
    fd: int,
    parent: int,
    threads: int,
    forward_to: str,
    prefixes: tuple[str, ...],
    demo: str | None,
) -> None:
    """One web process of ``integra up --workers N`` (started by it, not by hand)."""
    from deploy.runner import run_web_worker
    from services.agreements.context import DemoMark

    sys.exit(
        run_web_worker(
            ctx.settings,
            ctx.registry,
            fd=fd,
            parent=parent,
            threads=threads,
            forward_to=forward_to,
            prefixes=list(prefixes),
            demo=DemoMark(demo) if demo else None,
        )
    )


@main.command("web")
@click.option("--port", type=int, help="Default INTEGRA_PORT (8000).")
@click.option("--threads", type=click.IntRange(1, 256), default=8)
@click.option("--forward-to", default="", help="The connectors worker, http://host:port.")
@click.option("--parent", type=int, default=0, help="Stop when this process is gone.")
@pass_context
def web(ctx: Context, port: int | None, threads: int, forward_to: str, parent: int) -> None:
    """One web process: the gateway with every tenant's app, agency callbacks forwarded to
    the connectors worker (process types: deploy/process_types.py)."""
    from deploy.runner import run_web_worker
    from deploy.web import listening_socket

    sock = listening_socket(ctx.settings.host, port or ctx.settings.port)
    prefixes = ["/sim"] + [f"/t/{t.slug}/agency" for t in ctx.registry.enabled()]
    sys.exit(
        run_web_worker(
            ctx.settings,
            ctx.registry,
            fd=sock.fileno(),
            parent=parent or None,
            threads=threads,
            forward_to=forward_to,
            prefixes=prefixes if forward_to else [],
        )
    )


@main.command("worker")
@click.argument("role", type=click.Choice(["agreements", "connectors"]))
@click.option("--port", type=int, default=0, help="Loopback port for agency callbacks.")
@click.option("--parent", type=int, default=0, help="Stop when this process is gone.")
@click.option("--simulate", is_flag=True, help="Run the partner simulators (demo, tests).")
@pass_context
def worker(ctx: Context, role: str, port: int, parent: int, simulate: bool) -> None:
    """One worker process: ROLE's bus services of every enabled tenant on shared threads
    (process types: deploy/process_types.py)."""
    from deploy.supervisor import run_worker

    sys.exit(
        run_worker(
            ctx.settings,
            ctx.registry,
            role=role,
            parent=parent or None,
            port=port,
            simulate=simulate,
        )
    )


@main.group("connector")
def connector_group() -> None:
    """Connector services (one per tenant and agency kind)."""


@connector_group.command("run")
@click.argument("slug")
@click.argument("kind", type=click.Choice(AGENCY_KINDS))
@click.option("--port", type=int, default=0, help="Serve the webhook callback on this port.")
@pass_context
def connector_run(ctx: Context, slug: str, kind: str, port: int) -> None:
    """Run one connector alone: its consumer, relay and delivery loop (and, for a webhook
    partner, its callback endpoint at /t/<tenant>/agency/<kind>/callback)."""
    import signal as signals
    import threading

    from deploy.provisioning import provision_tenant
    from deploy.wiring import bus_transport
    from services.connectors.runtime import ConnectorRuntime

    tenant = ctx.tenant(slug)
    partner = tenant.partner(kind)
    if partner is None:
        raise click.ClickException(f"{slug} has no {kind} partner in its registry file")
    provision_tenant(ctx.settings, tenant)  # idempotent: keys, bus, the connector's database
    runtime = ConnectorRuntime(bus_transport(ctx.settings), tenant, partner)
    stop = threading.Event()
    signals.signal(signals.SIGTERM, lambda *_: stop.set())
    signals.signal(signals.SIGINT, lambda *_: stop.set())
    runtime.start()
    server = None
    if runtime.has_callback and port:
        from waitress.server import create_server
        from werkzeug.exceptions import NotFound
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        app = DispatcherMiddleware(NotFound(), {f"/t/{slug}": runtime.callback_app()})
        server = create_server(app, host=ctx.settings.host, port=port)
        threading.Thread(target=server.run, daemon=True).start()
    click.echo(f"connector {slug}/{kind} running over {partner.channel}; Ctrl-C stops it")
    stop.wait()
    if server is not None:
        server.close()
    runtime.stop()


@main.group("metrics")
def metrics_group() -> None:
    """The metrics folder the processes of an installation share."""


@metrics_group.command("clean")
@pass_context
def metrics_clean(ctx: Context) -> None:
    """Empty the metrics folder (PROMETHEUS_MULTIPROC_DIR, else var/metrics) before the
    processes start, so counters of a former run do not add to this one's (systemd's
    integra-prepare.service runs it; integra up does it itself)."""
    from deploy.observability import clean_metrics_dir, metrics_dir

    folder = metrics_dir(ctx.settings)
    clean_metrics_dir(folder)
    click.echo(f"metrics folder {folder} is empty")
