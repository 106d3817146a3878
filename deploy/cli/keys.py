"""``integra keys``: rotating a tenant's bus signing key (docs/operations.md#rotate-keys)."""

from __future__ import annotations

import json

import click

from .base import Context, main, pass_context


@main.group("keys")
def keys_group() -> None:
    """A tenant's bus signing keys (var/secrets/<tenant>/bus-keys.json)."""


@keys_group.command("list")
@click.argument("slug")
@pass_context
def keys_list(ctx: Context, slug: str) -> None:
    """Each signing key's id and status: active (signs), accepted (verifies), retired."""
    from messaging.signing import keyring_path

    path = keyring_path(ctx.settings, ctx.tenant(slug).slug)
    if not path.exists():
        raise click.ClickException(f"{slug} has no key ring yet (provision it first)")
    for entry in json.loads(path.read_text(encoding="utf-8"))["signing"]:
        click.echo(f"{entry['jwk']['kid']}\t{entry['status']}")


@keys_group.command("rotate")
@click.argument("slug")
@pass_context
def keys_rotate(ctx: Context, slug: str) -> None:
    """A new active signing key; the former one stays accepted, so messages in flight still
    verify. Restart the processes so they sign with the new key."""
    from messaging.signing import rotate_signing_key

    kid = rotate_signing_key(ctx.settings, ctx.tenant(slug).slug)
    click.echo(f"{slug}: new signing key {kid}; restart the processes, then retire the old key")


@keys_group.command("retire")
@click.argument("slug")
@click.argument("kid")
@pass_context
def keys_retire(ctx: Context, slug: str, kid: str) -> None:
    """Stop accepting a rotated-out key (once the outbox lag is 0 and the queues are empty);
    its private half is deleted."""
    from messaging.signing import keyring_path, retire_signing_key

    tenant = ctx.tenant(slug)
    path = keyring_path(ctx.settings, tenant.slug)
    known = [e["jwk"]["kid"] for e in json.loads(path.read_text(encoding="utf-8"))["signing"]]
    if kid not in known:
        raise click.ClickException(f"{slug} has no signing key {kid!r}; known: {', '.join(known)}")
    try:
        retire_signing_key(ctx.settings, tenant.slug, kid)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{slug}: key {kid} retired")
