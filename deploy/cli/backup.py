"""``integra backup`` and ``integra restore``: a tenant's data, keys and registry file in one
archive with a checksum manifest, and back (deploy/backup.py)."""

from __future__ import annotations

from pathlib import Path

import click

from .base import Context, main, pass_context


@main.command("backup")
@click.argument("slug", required=False)
@click.option("--all", "all_tenants", is_flag=True, help="Every tenant, one archive each.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="The archive (FILE), or with --all the folder for <tenant>.tar files.",
)
@pass_context
def backup(ctx: Context, slug: str | None, all_tenants: bool, out: Path) -> None:
    """Back up a tenant (or --all): its databases, keys and secrets and registry file in
    one tar archive with a checksum manifest. Safe while the platform runs."""
    from deploy.backup import backup_tenant

    if bool(slug) == all_tenants:
        raise click.ClickException("name one tenant or give --all")
    if all_tenants:
        out.mkdir(parents=True, exist_ok=True)
        targets = [(tenant, out / f"{tenant.slug}.tar") for tenant in ctx.registry]
    else:
        if out.is_dir():
            raise click.ClickException(f"{out} is a folder: --out names the archive file")
        targets = [(ctx.tenant(slug or ""), out)]
    failed = []
    for tenant, path in targets:
        try:
            manifest = backup_tenant(ctx.settings, tenant, path)
        except Exception as exc:
            failed.append(tenant.slug)
            click.echo(f"{tenant.slug}: backup FAILED: {exc}", err=True)
            continue
        click.echo(
            f"{tenant.slug}: {len(manifest.stores)} database(s), "
            f"{sum(m.startswith('secrets/') for m in manifest.files)} secret file(s) -> {path}"
        )
    if failed:
        raise click.ClickException(f"{len(failed)} backup(s) failed: {', '.join(failed)}")


@main.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite the tenant if it exists here.")
@pass_context
def restore(ctx: Context, archive: Path, replace: bool) -> None:
    """Restore a tenant from a backup ARCHIVE: checked completely first (a damaged or
    altered archive changes nothing). An existing tenant is overwritten only with
    --replace, and only with the platform stopped."""
    from deploy.backup import RestoreRefused, restore_archive
    from deploy.backup_archive import ArchiveError

    try:
        known = dict(ctx.registry.tenants)
    except click.ClickException:
        known = {}  # a fresh installation may have no registry yet
    try:
        result = restore_archive(ctx.settings, known, archive, replace=replace)
    except (ArchiveError, RestoreRefused) as exc:
        raise click.ClickException(f"{archive}: refused, nothing changed: {exc}") from exc
    verb = "replaced" if result.replaced else "restored"
    click.echo(
        f"{result.tenant}: {verb} from the backup of {result.created_at} "
        f"(schema {result.revision}); start the platform to serve it"
    )
