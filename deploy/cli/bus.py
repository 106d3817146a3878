"""``integra status`` and ``integra dlq``: schemas, lag and dead letters."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from .base import Context, main, pass_context


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
