"""``integra offers import|export``: a tenant's offer directory (Open Referral HSDS 3) in and
out, as JSON (one organization or a list, shaped like HSDS's organization_full.json) or as an
HSDS tabular datapackage folder."""

from __future__ import annotations

from pathlib import Path

import click

from services.agreements.models.vocabulary import Role
from services.agreements.offers.operations import exchange
from services.agreements.offers.operations.import_checks import OfferImportInvalid
from services.agreements.principal import Principal

from .base import Context, main, pass_context, tenant_session

OPERATOR = "service:integra-cli"


@main.group("offers")
def offers_group() -> None:
    """A tenant's offer directory (HSDS 3): import and export."""


@offers_group.command("import")
@click.argument("slug")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@pass_context
def offers_import(ctx: Context, slug: str, source: Path) -> None:
    """Import SOURCE into the tenant's directory: a JSON file (one organization or a list) or
    a folder with an HSDS datapackage.json. Records are updated by id; a batch with an invalid
    record is refused whole (each problem printed with its path) and nothing is applied."""
    try:
        with tenant_session(ctx, slug) as session:
            principal = Principal(OPERATOR, Role.TENANT_ADMIN, slug)
            result = exchange.import_path(session, principal, source)
    except OfferImportInvalid as refused:
        for problem in refused.fields["records"]:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(refused.en) from refused
    parts = [f"{n} {kind} created" for kind, n in sorted(result.created.items())]
    parts += [f"{n} {kind} updated" for kind, n in sorted(result.updated.items())]
    click.echo(f"{slug}: " + (", ".join(parts) or "nothing to import"))


@offers_group.command("export")
@click.argument("slug")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for organizations.json and tabular/ (created if missing).",
)
@pass_context
def offers_export(ctx: Context, slug: str, out: Path) -> None:
    """Write the tenant's directory in both HSDS forms: OUT/organizations.json and the
    datapackage OUT/tabular/."""
    with tenant_session(ctx, slug) as session:
        counts = exchange.write_export(session, out)
    click.echo(
        f"{slug}: {counts.get('services', 0)} services of "
        f"{counts.get('organizations', 0)} organizations written to {out}"
    )
