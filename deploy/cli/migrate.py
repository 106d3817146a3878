"""``integra migrate``: every tenant (or the named ones) created where missing and brought to
the newest schema, in parallel worker processes, with a progress bar."""

from __future__ import annotations

import sys

import click

from .base import Context, main, pass_context


@main.command("migrate")
@click.argument("slugs", nargs=-1)
@click.option("--all", "all_tenants", is_flag=True, help="Every enabled tenant (the default).")
@click.option(
    "--workers",
    "--parallel",
    type=click.IntRange(1, 32),
    help="Worker processes (default: two per core, at most 8).",
)
@pass_context
def migrate(ctx: Context, slugs: tuple[str, ...], all_tenants: bool, workers: int | None) -> None:
    """Create missing tenant databases and migrate every (or the named) tenant. A tenant
    that fails is reported and the others go on; the exit status is 1 if any failed."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deploy.migrate_all import MigrationOutcome, migrate_tenants

    if slugs and all_tenants:
        raise click.ClickException("name tenants or give --all, not both")
    tenants = [ctx.tenant(s) for s in slugs] if slugs else ctx.registry.enabled()
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task("migrate", total=len(tenants), failed=0)
        failed = 0

        def advance(outcome: MigrationOutcome) -> None:
            nonlocal failed
            if outcome.failed:
                failed += 1
                progress.console.print(f"[red]{outcome.tenant}: {outcome.error}")
            progress.update(task, advance=1, failed=failed)

        outcomes = migrate_tenants(ctx.settings, tenants, workers=workers, on_outcome=advance)
    for outcome in outcomes:
        if outcome.failed:
            click.echo(f"{outcome.tenant:32} {'FAILED':10} {outcome.error}")
        else:
            click.echo(f"{outcome.tenant:32} {outcome.state:10} schema {outcome.revision}")
    bad = [o.tenant for o in outcomes if o.failed]
    if bad:
        click.echo(f"{len(bad)} of {len(outcomes)} tenant(s) failed: {', '.join(bad)}", err=True)
        sys.exit(1)
