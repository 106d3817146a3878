"""``integra bus``: the broker's topology (moving to the shared vhost, the workers' users)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from messaging.transports.rabbitmq import RabbitMQTransport

from .base import Context, main, pass_context


@main.group("bus")
def bus_group() -> None:
    """The message broker: topology and broker users."""


def _rabbitmq(ctx: Context) -> RabbitMQTransport:
    from deploy.wiring import bus_transport
    from messaging.transports.rabbitmq import RabbitMQTransport

    transport = bus_transport(ctx.settings)
    if not isinstance(transport, RabbitMQTransport):
        raise click.ClickException("no broker configured (INTEGRA_BROKER_URL): nothing to do")
    return transport


@bus_group.command("migrate-topology")
@click.argument("slugs", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@pass_context
def migrate_topology(ctx: Context, slugs: tuple[str, ...], as_json: bool) -> None:
    """Move every (or the named) tenant from its former vhost to the shared vhost.

    Messages still in the former queues are moved with publisher confirms; a former vhost is
    deleted only when empty. Idempotent. Stop the tenants' former workers first."""
    from messaging.broker_admin import provision_workers
    from messaging.topology_migration import migrate_tenant

    transport = _rabbitmq(ctx)
    tenants = [ctx.tenant(s) for s in slugs] if slugs else ctx.registry.enabled()
    provision_workers(ctx.settings)
    results = []
    for tenant in tenants:
        try:
            results.append(migrate_tenant(transport, tenant))
        except Exception as exc:
            raise click.ClickException(f"{tenant.slug}: {exc}") from exc
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for r in results:
        if r.already_done:
            state = "already on the shared vhost"
        elif r.vhost_deleted:
            state = f"moved {sum(r.moved.values())} message(s); {r.old_vhost} deleted"
        else:
            state = f"moved {sum(r.moved.values())}; {r.old_vhost} kept, not empty: {r.left}"
        click.echo(f"{r.tenant:32} {state}")
    if any(r.left for r in results):
        raise click.ClickException("some former vhosts still hold messages; run again later")
