"""``integra partner``: connecting a tenant's real partner agencies.

``check`` tells whether an agency is reachable and both sides can authenticate each other,
without sending case data; ``key register`` registers the public key an agency signs its
webhook answers with; ``jwks`` prints the tenant's public keys, with which an agency verifies
what Integra sends it. See docs/partners.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tenants.registry import PartnerEntry, Tenant
from tenants.vocabulary import AGENCY_KINDS

from .base import Context, main, pass_context


@main.group("partner")
def partner_group() -> None:
    """A tenant's partner agencies: check the connection, register keys."""


def _partner(ctx: Context, slug: str, kind: str) -> tuple[Tenant, PartnerEntry]:
    tenant = ctx.tenant(slug)
    partner = tenant.partner(kind)
    if partner is None:
        raise click.ClickException(f"{slug} has no {kind} partner in its registry file")
    return tenant, partner


@partner_group.command("check")
@click.argument("slug")
@click.argument("kind", type=click.Choice(AGENCY_KINDS))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
def partner_check(ctx: Context, slug: str, kind: str, as_json: bool) -> None:
    """Whether the partner is reachable and authenticated, without sending case data.

    Exit status: 0 reachable and authenticated; 3 not configured (the registry or Integra's
    side lacks an address, a key or a queue); 4 unreachable; 5 reachable but refusing us, or
    not confirming our signature; 1 an unknown tenant or partner."""
    from deploy.wiring import bus_transport
    from services.connectors.channels.probes import ProbeOutcome, describe
    from services.connectors.channels.registry import check_partner

    tenant, partner = _partner(ctx, slug, kind)
    result = check_partner(bus_transport(ctx.settings), tenant, partner)
    if as_json:
        click.echo(describe(result))
    else:
        verdict = {
            ProbeOutcome.OK: "reachable and authenticated",
            ProbeOutcome.NOT_CONFIGURED: "not configured",
            ProbeOutcome.UNREACHABLE: "unreachable",
            ProbeOutcome.REFUSED: "refused",
        }[result.outcome]
        stream_err = result.outcome is not ProbeOutcome.OK
        click.echo(f"{slug}/{kind} over {partner.channel}: {verdict}", err=stream_err)
        click.echo(f"  {result.detail}", err=stream_err)
        for note in result.notes:
            click.echo(f"  - {note}", err=stream_err)
    sys.exit(result.outcome.exit_code)


@partner_group.group("key")
def key_group() -> None:
    """The keys partner agencies sign their webhook answers with."""


@key_group.command("register")
@click.argument("slug")
@click.argument("kind", type=click.Choice(AGENCY_KINDS))
@click.argument("jwk_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def key_register(ctx: Context, slug: str, kind: str, jwk_file: Path) -> None:
    """Register the agency's public key (a JWK, or a JWK Set to rotate) from JWK_FILE.

    Replaces what was registered before; a file with private key material is refused."""
    from services.connectors.partner_keys import PartnerKeyError, register_partner_public_key

    _partner(ctx, slug, kind)
    try:
        kids = register_partner_public_key(ctx.settings, slug, kind, jwk_file.read_bytes())
    except PartnerKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"registered for {slug}/{kind}: {', '.join(kids)}")


@partner_group.command("jwks")
@click.argument("slug")
@pass_context
def partner_jwks(ctx: Context, slug: str) -> None:
    """The tenant's public signing keys as a JWK Set: give it to the agency, which verifies
    every referral (and the probe of ``partner check``) with it."""
    from messaging.signing import BusKeyring

    ctx.tenant(slug)
    try:
        keys = BusKeyring.load(ctx.settings, slug)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(keys.verification_keys.as_dict(private=False), indent=2))
