"""``integra tenants`` and ``integra tenant``: the registry, one tenant, its API clients."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.agreements.models.vocabulary import Role
from tenants.registry import RegistryError, Tenant, load_tenant_file

from .base import STAFF_ROLES, Context, main, pass_context, tenant_session


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
    """Validate a registry FILE, copy it into the registry and provision the tenant.

    Running it again with the same file does nothing (exit 0). If PostgreSQL or the broker
    refuses a step, what this run created is removed again and the error names the step."""
    from deploy.provisioning import ProvisioningFailed
    from deploy.tenant_lifecycle import TenantLifecycleError, add_tenant

    try:
        result = add_tenant(ctx.settings, ctx.registry, file)
    except (RegistryError, TenantLifecycleError, ProvisioningFailed) as exc:
        raise click.ClickException(str(exc)) from exc
    if result.action == "nothing to do":
        click.echo(
            f"{result.tenant}: nothing to do (registered and provisioned, schema {result.revision})"
        )
    else:
        click.echo(f"{result.action} {result.tenant} (schema {result.revision})")


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
    _export(ctx, slug, output)


def _export(ctx: Context, slug: str, output: Path) -> None:
    from sqlalchemy import MetaData

    from tenants.databases import create_tenant_engine

    engine = create_tenant_engine(ctx.settings, ctx.tenant(slug), pool_size=1)
    try:
        tables: dict[str, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
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
@click.option(
    "--export",
    "export_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Export the tenant's tables to this JSON file first, then delete.",
)
@click.option("--yes", is_flag=True, help="Delete without an export.")
@pass_context
def tenant_delete(ctx: Context, slug: str, export_to: Path | None, yes: bool) -> None:
    """Drop all of a tenant's schemas and roles and its bus, and remove its registry file.
    This cannot be undone: give --export FILE (or take an `integra backup` and give --yes)."""
    from deploy.tenant_lifecycle import delete_tenant

    tenant = ctx.tenant(slug)
    if not (yes or export_to):
        raise click.ClickException(
            "refusing without --yes or --export FILE: this deletes all of the tenant's data"
        )
    if export_to:
        _export(ctx, slug, export_to)
    removed = delete_tenant(ctx.settings, tenant)
    click.echo(f"{slug}: deleted ({', '.join(removed)}); keys stay under var/secrets/{slug}")


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


@api_client_group.command("list")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def api_client_list(ctx: Context, slug: str, as_json: bool) -> None:
    """The tenant's API clients: id, name, role, office, revoked, live tokens."""
    from services.agreements.operations.api_clients import list_api_clients

    with tenant_session(ctx, slug) as session:
        entries = list_api_clients(session)
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], default=str, indent=2))
        return
    click.echo(f"{'client_id':36} {'role':13} {'office':14} {'tokens':>6}  state    name")
    for e in entries:
        state = f"revoked {e.revoked_at:%Y-%m-%d}" if e.revoked_at else "active"
        click.echo(
            f"{e.client_id:36} {e.role:13} {e.office_key or '-':14} {e.active_tokens:>6}  "
            f"{state:8} {e.name}"
        )


@api_client_group.command("revoke")
@click.argument("slug")
@click.argument("client_id")
@pass_context
def api_client_revoke(ctx: Context, slug: str, client_id: str) -> None:
    """Revoke an API client and its tokens: refused at once, in every process."""
    from services.agreements.errors import DomainError
    from services.agreements.operations.api_clients import revoke_api_client
    from services.agreements.principal import Principal

    operator = Principal("operator:cli", Role.SERVICE, slug)
    try:
        with tenant_session(ctx, slug) as session:
            revoke_api_client(session, operator, client_id)
    except DomainError as exc:
        raise click.ClickException(f"{slug}: {exc.en}") from exc
    click.echo(f"{slug}: {client_id} revoked; its tokens answer 401 from now on")
