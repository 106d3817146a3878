"""``integra``: the operator's command line."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from deploy import evaluation_cli
from services.agreements.models.vocabulary import Role
from tenants.registry import Registry, RegistryError, Tenant, load_registry, load_tenant_file
from tenants.settings import ConfigurationError, Settings, load_settings
from tenants.vocabulary import AGENCY_KINDS


class Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._registry: Registry | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigurationError as exc:
                raise click.ClickException(f"configuration: {exc}") from exc
        return self._settings

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            try:
                self._registry = load_registry(self.settings.tenants_dir)
            except RegistryError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._registry

    def tenant(self, slug: str) -> Tenant:
        tenant = self.registry.get(slug)
        if tenant is None:
            known = ", ".join(self.registry.tenants)
            raise click.ClickException(f"unknown tenant {slug!r}; known: {known}")
        return tenant


pass_context = click.make_pass_decorator(Context, ensure=True)

#: Roles an API client or a staff member can have (the bus's own "service" role is not one).
STAFF_ROLES = [role.value for role in Role if role is not Role.SERVICE]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Integra: integration agreements for municipal migration counselling."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.ensure_object(Context)


def _tenant_summary(tenant: Tenant) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "federal_state": tenant.federal_state,
        "kind": tenant.kind,
        "enabled": tenant.enabled,
        "offices": len(tenant.offices),
        "partners": {p.kind: p.channel for p in tenant.partners},
    }


@main.group("tenants")
def tenants_group() -> None:
    """All tenants of the registry."""


@tenants_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def tenants_list(ctx: Context, as_json: bool) -> None:
    """List the municipalities of the registry."""
    rows = [_tenant_summary(t) for t in ctx.registry]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'slug':32} {'state':5} {'kind':8} {'offices':>7}  name")
    for row in rows:
        flag = "" if row["enabled"] else "  (disabled)"
        click.echo(
            f"{row['slug']:32} {row['federal_state']:5} {row['kind']:8} {row['offices']:>7}  "
            f"{row['name']}{flag}"
        )


@main.group("tenant")
def tenant_group() -> None:
    """One tenant: add, show, disable, export, delete, API clients."""


@tenant_group.command("show")
@click.argument("slug")
@pass_context
def tenant_show(ctx: Context, slug: str) -> None:
    tenant = ctx.tenant(slug)
    data = asdict(tenant)
    data["vhost"] = tenant.vhost
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@tenant_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def tenant_add(ctx: Context, file: Path) -> None:
    """Validate a registry FILE, copy it into the registry and provision the tenant."""
    from deploy.provisioning import provision_tenant

    try:
        tenant = load_tenant_file(file)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    target = ctx.settings.tenants_dir / file.name
    if tenant.slug in ctx.registry.tenants or target.exists():
        raise click.ClickException(f"tenant {tenant.slug!r} exists already")
    shutil.copyfile(file, target)
    result = provision_tenant(ctx.settings, tenant)
    click.echo(f"added {tenant.slug} (schema {result.revision})")


@tenant_group.command("disable")
@click.argument("slug")
@pass_context
def tenant_disable(ctx: Context, slug: str) -> None:
    """Stop serving a tenant (its data stays). Marks its registry file enabled = false."""
    tenant = ctx.tenant(slug)
    path = ctx.settings.tenants_dir / f"{tenant.slug}.toml"
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("enabled")]
    insert_at = next(i for i, ln in enumerate(lines) if ln.startswith("kind"))
    lines.insert(insert_at + 1, "enabled = false")
    path.write_text("\n".join(lines) + "\n")
    load_tenant_file(path)
    click.echo(f"{slug} disabled")


@tenant_group.command("export")
@click.argument("slug")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_context
def tenant_export(ctx: Context, slug: str, output: Path) -> None:
    """Write all of a tenant's tables as JSON (for moving or archiving a municipality)."""
    from tenants.databases import create_tenant_engine

    engine = create_tenant_engine(ctx.settings, ctx.tenant(slug), pool_size=1)
    try:
        tables: dict[str, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
            from sqlalchemy import MetaData

            meta = MetaData()
            meta.reflect(conn)
            for name, table in sorted(meta.tables.items()):
                rows = conn.execute(select(table)).mappings()
                tables[name] = [{k: v for k, v in row.items()} for row in rows]
    finally:
        engine.dispose()
    output.write_text(json.dumps({"tenant": slug, "tables": tables}, default=str, indent=1))
    click.echo(f"exported {sum(len(r) for r in tables.values())} rows to {output}")


@tenant_group.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Really drop the tenant's database.")
@pass_context
def tenant_delete(ctx: Context, slug: str, yes: bool) -> None:
    """Drop all of a tenant's databases and roles and its bus vhost. Export it first; this
    cannot be undone."""
    from deploy.provisioning import deprovision_tenant

    tenant = ctx.tenant(slug)
    if not yes:
        raise click.ClickException("refusing without --yes: this deletes all of the tenant's data")
    deprovision_tenant(ctx.settings, tenant)
    click.echo(
        f"{slug}: databases and bus dropped; remove {slug}.toml from the registry to forget it"
    )


@tenant_group.group("api-client")
def api_client_group() -> None:
    """OAuth 2 clients of a tenant's API."""


@api_client_group.command("create")
@click.argument("slug")
@click.option(
    "--role",
    required=True,
    type=click.Choice(STAFF_ROLES),
)
@click.option("--office", "office_key", help="Office key (required for counsellor, office_lead).")
@click.option("--name", default="api client", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_context
def api_client_create(
    ctx: Context, slug: str, role: str, office_key: str | None, name: str, as_json: bool
) -> None:
    """Create an API client; prints its id and secret once."""
    from deploy.provisioning import provision_tenant
    from services.agreements.errors import DomainError
    from services.agreements.models.vocabulary import Role
    from services.agreements.operations.api_clients import create_api_client
    from tenants.databases import create_tenant_engine

    tenant = ctx.tenant(slug)
    provision_tenant(ctx.settings, tenant)
    engine = create_tenant_engine(ctx.settings, tenant, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            try:
                issued = create_api_client(session, name, Role(role), office_key)
            except DomainError as exc:
                raise click.ClickException(exc.en) from exc
    finally:
        engine.dispose()
    if as_json:
        click.echo(
            json.dumps({"client_id": issued.client_id, "client_secret": issued.client_secret})
        )
    else:
        click.echo(f"client_id:     {issued.client_id}")
        click.echo(f"client_secret: {issued.client_secret}")
        click.echo(f"token URL:     /t/{slug}/oauth/token (client credentials)")


@main.command("migrate")
@click.argument("slugs", nargs=-1)
@click.option("--parallel", default=4, show_default=True)
@pass_context
def migrate(ctx: Context, slugs: tuple[str, ...], parallel: int) -> None:
    """Create missing tenant databases and migrate every (or the named) tenant."""
    from deploy.provisioning import provision_all

    tenants = [ctx.tenant(s) for s in slugs] if slugs else ctx.registry.enabled()
    for result in provision_all(ctx.settings, tenants, parallel=parallel):
        state = "created" if result.created else "up to date"
        click.echo(f"{result.tenant:32} {state:10} schema {result.revision}")


@main.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Per tenant: schema revision, clients, outbox lag and queue depths."""
    from sqlalchemy import func

    from deploy.wiring import bus_transport
    from messaging.operator import status as bus_status
    from services.agreements.migrate import current_revision
    from services.agreements.models import Client
    from tenants.databases import create_tenant_engine

    rows: list[dict[str, Any]] = []
    for tenant in ctx.registry.enabled():
        engine = create_tenant_engine(ctx.settings, tenant, pool_size=1)
        try:
            if not inspect(engine).has_table("clients"):
                rows.append({"tenant": tenant.slug, "provisioned": False})
                continue
            with Session(engine) as session:
                count = session.scalar(select(func.count()).select_from(Client)) or 0
            row: dict[str, Any] = {
                "tenant": tenant.slug,
                "provisioned": True,
                "schema": current_revision(engine),
                "clients": count,
            }
            try:
                bus = bus_status(bus_transport(ctx.settings), tenant, engine)
                row.update(
                    outbox_pending=bus.outbox_pending,
                    outbox_failing=bus.outbox_failing,
                    outbox_lag_seconds=round(bus.outbox_lag_seconds, 1),
                    queues={q.queue: q.ready + q.unacknowledged for q in bus.queues},
                )
            except Exception as exc:  # the bus being down is a status, not a crash
                row["bus_error"] = str(exc)
            rows.append(row)
        finally:
            engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if not row["provisioned"]:
            click.echo(f"{row['tenant']:32} not provisioned")
            continue
        bus_text = row.get("bus_error") or (
            f"outbox {row['outbox_pending']} pending ({row['outbox_failing']} failing, "
            f"lag {row['outbox_lag_seconds']} s)  queues "
            + " ".join(f"{q}={n}" for q, n in sorted(row["queues"].items()))
        )
        click.echo(
            f"{row['tenant']:32} schema {row['schema']}  clients {row['clients']}  {bus_text}"
        )


@main.group("dlq")
def dlq_group() -> None:
    """Dead-letter queues: messages that could not take effect, with their reasons."""


@dlq_group.command("list")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def dlq_list(ctx: Context, slug: str, as_json: bool) -> None:
    from deploy.wiring import bus_transport

    try:
        entries = bus_transport(ctx.settings).dead_letters(ctx.tenant(slug))
    except Exception as exc:
        raise click.ClickException(f"{slug}: cannot read the dead-letter queues: {exc}") from exc
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"{slug}: no dead letters")
    for e in entries:
        click.echo(
            f"{e.message_id}  {e.type or '?':28} {e.reason:18} from {e.consumer_queue}  "
            f"{e.dead_at or ''}  {e.detail or ''}"
        )


@dlq_group.command("replay")
@click.argument("slug")
@click.argument("message_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@pass_context
def dlq_replay(ctx: Context, slug: str, message_id: str | None, replay_all: bool) -> None:
    """Send dead letters back to their queue (checked again from scratch)."""
    from deploy.wiring import bus_transport

    if bool(message_id) == replay_all:
        raise click.ClickException("name one MESSAGE_ID or give --all")
    try:
        count = bus_transport(ctx.settings).replay(
            ctx.tenant(slug), None if replay_all else message_id
        )
    except Exception as exc:
        raise click.ClickException(f"{slug}: cannot replay: {exc}") from exc
    if message_id and count == 0:
        raise click.ClickException(f"{slug}: no dead letter with id {message_id}")
    click.echo(f"{slug}: replayed {count} message(s)")


@main.command("up")
@click.option("--port", type=int, help="Default INTEGRA_PORT (8000).")
@click.option("--no-demo", is_flag=True, help="Do not seed demo data.")
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
    ctx: Context, port: int | None, no_demo: bool, threads: int | None, workers: int | None
) -> None:
    """Run the platform: every enabled tenant, provisioned on first start."""
    from deploy.runner import run_platform

    sys.exit(
        run_platform(
            ctx.settings,
            ctx.registry,
            port=port,
            demo=not no_demo,
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
@pass_context
def web_worker(
    ctx: Context, fd: int, parent: int, threads: int, forward_to: str, prefixes: tuple[str, ...]
) -> None:
    """One web process of ``integra up --workers N`` (started by it, not by hand)."""
    from deploy.runner import run_web_worker

    sys.exit(
        run_web_worker(
            ctx.settings,
            ctx.registry,
            fd=fd,
            parent=parent,
            threads=threads,
            forward_to=forward_to,
            prefixes=list(prefixes),
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
    if partner.channel == "webhook" and port:
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


main.add_command(evaluation_cli.evaluation_group)
main.add_command(evaluation_cli.retention_group)
main.add_command(evaluation_cli.audit_group)

if __name__ == "__main__":
    main()
