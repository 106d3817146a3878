"""``integra evaluation export|recount``, ``integra retention run``, ``integra audit verify``:
the operator's side of monitoring, evaluation and data protection."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from tenants.registry import Tenant

from .base import Context, main, pass_context


@main.group("evaluation")
def evaluation_group() -> None:
    """Cross-tenant evaluation: aggregates only, small cells suppressed."""


@evaluation_group.command("export")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--from", "period_from", type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "period_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day.")
@pass_context
def evaluation_export(
    ctx: Context, out: Path, period_from: datetime | None, period_to: datetime | None
) -> None:
    """Write the figures of every enabled tenant, per site and for all sites, to OUT."""
    from deploy.evaluation import tenant_figures, write_export
    from services.agreements.figures import FigureFilter

    start = period_from.date() if period_from else None
    end = period_to.date() if period_to else None
    if start and end and start > end:
        raise click.ClickException("--to is before --from")
    figure_filter = FigureFilter(today=datetime.now(UTC).date(), period_from=start, period_to=end)
    figures = [tenant_figures(ctx.settings, t, figure_filter) for t in ctx.registry.enabled()]
    summary = write_export(figures, out)
    for name, counts in summary.tables.items():
        click.echo(
            f"{name:24} {counts['cells']:5} cells, {counts['primary']:4} suppressed "
            f"(< 5), {counts['secondary']:4} more so none can be recomputed"
        )
    click.echo(f"{len(summary.sites)} sites written to {out}")


@evaluation_group.command("recount")
@click.argument("slug", required=False)
@click.option("--all", "all_tenants", is_flag=True, help="Every enabled tenant.")
@pass_context
def evaluation_recount(ctx: Context, slug: str | None, all_tenants: bool) -> None:
    """Rebuild the running counts behind the figures from the cases (after a restore, or
    data changed by hand in the database)."""
    from services.agreements.figures.rebuild import rebuild
    from tenants.databases import create_tenant_engine

    if bool(slug) == all_tenants:
        raise click.ClickException("name one tenant or give --all")
    tenants: list[Tenant] = ctx.registry.enabled() if all_tenants else [ctx.tenant(slug or "")]
    for tenant in tenants:
        engine = create_tenant_engine(ctx.settings, tenant, pool_size=1)
        try:
            with engine.begin() as connection:
                rebuild(connection)
        finally:
            engine.dispose()
        click.echo(f"{tenant.slug}: running counts rebuilt")


def _actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except Exception:  # no user name in a container: still say it was the operator
        return "operator"


@main.group("retention")
def retention_group() -> None:
    """Deleting or anonymising the personal data of cases closed long ago."""


@retention_group.command("run")
@click.argument("slug", required=False)
@click.option("--all", "all_tenants", is_flag=True, help="Every enabled tenant.")
@click.option("--dry-run", is_flag=True, help="Only count what is due; change nothing.")
@click.option(
    "--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Apply the rule as on this day."
)
@pass_context
def retention_run(
    ctx: Context, slug: str | None, all_tenants: bool, dry_run: bool, as_of: datetime | None
) -> None:
    """Apply each tenant's retention rule ([retention] in its registry file)."""
    from deploy.retention_timer import run_retention

    if bool(slug) == all_tenants:
        raise click.ClickException("name one tenant or give --all")
    tenants: list[Tenant] = ctx.registry.enabled() if all_tenants else [ctx.tenant(slug or "")]
    day: date = as_of.date() if as_of else datetime.now(UTC).date()
    for tenant in tenants:
        result = run_retention(ctx.settings, tenant, as_of=day, actor=_actor(), dry_run=dry_run)
        verb = "due" if dry_run else ("deleted" if result.action == "delete" else "anonymised")
        click.echo(
            f"{tenant.slug:32} {result.cases:6} case(s) {verb} (closed before "
            f"{result.closed_before}; rule: {result.action} after {result.years} years)"
            + (" [dry run]" if dry_run else "")
        )


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.argument("slug")
@click.option("--expect-head", help="A head hash recorded earlier: it must still be in the chain.")
@pass_context
def audit_verify(ctx: Context, slug: str, expect_head: str | None) -> None:
    """Walk the tenant's audit chain; name the first edited, inserted or deleted entry.
    Exit status 1 on a break."""
    from services.agreements.operations.audit_verify import verify_audit_chain
    from tenants.databases import create_tenant_engine

    engine = create_tenant_engine(ctx.settings, ctx.tenant(slug), pool_size=1)
    try:
        with Session(engine) as session:
            report = verify_audit_chain(session, expect_head)
    finally:
        engine.dispose()
    if report.broken is None:
        click.echo(f"{slug}: audit chain intact, {report.entries} entries, head {report.head}")
        return
    where = f"entry {report.broken.entry_id}" if report.broken.entry_id is not None else "end"
    click.echo(
        f"{slug}: audit chain broken at {where}: {report.broken.kind} ({report.broken.detail})",
        err=True,
    )
    sys.exit(1)
