"""``integra deploy k8s``: Kubernetes manifests from the tenant registry; ``integra process
<type>``: one process of a declared type, by its name (the systemd template's command)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from deploy.process_types import PROCESS_TYPES, process_type

from .base import Context, main, pass_context


@main.group("deploy")
def deploy_group() -> None:
    """Deployment artefacts generated from the registry."""


@deploy_group.command("k8s")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--domain", help="Base domain: <tenant>.<domain> per tenant (default INTEGRA_DOMAIN)."
)
@click.option("--namespace", default="integra", show_default=True)
@click.option("--image", default="integra:latest", show_default=True, help="Integra's image.")
@click.option("--ingress-class", default="nginx", show_default=True)
@pass_context
def deploy_k8s(
    ctx: Context, out: Path, domain: str | None, namespace: str, image: str, ingress_class: str
) -> None:
    """Write Deployments per process type, Services, an Ingress per tenant host, ConfigMaps,
    Secret references, autoscalers, the migrate Job, RabbitMQ (Cluster and Messaging
    Topology Operators) and CloudNativePG resources to OUT, after validating every one
    against the vendored schemas (nothing is written if one fails)."""
    from deploy.k8s.generate import generate, write
    from deploy.k8s.options import K8sOptions
    from deploy.k8s.validation import ManifestError

    domain = domain or ctx.settings.domain
    if not domain:
        raise click.ClickException("a base domain is needed: --domain or INTEGRA_DOMAIN")
    try:
        options = K8sOptions(
            domain=domain.lower(), namespace=namespace, image=image, ingress_class=ingress_class
        )
        written = write(generate(ctx.registry, ctx.settings.tenants_dir, options), out)
    except ManifestError as exc:
        raise click.ClickException(f"invalid manifests, nothing written:\n{exc}") from exc
    click.echo(f"{len(written)} files in {out}; apply with: kubectl apply -R -f {out}")


@main.command("process")
@click.argument("name", type=click.Choice([p.name for p in PROCESS_TYPES]))
@click.option("--dry-run", is_flag=True, help="Print the command instead of running it.")
def run_process_type(name: str, dry_run: bool) -> None:
    """Become one process of the type NAME (deploy/process_types.py): the systemd unit
    ``integra@NAME`` runs this, so one template serves every type."""
    args = [sys.executable, "-m", "deploy.cli", *process_type(name).args]
    if dry_run:
        click.echo(" ".join(["integra", *args[3:]]))
        return
    os.execv(sys.executable, args)  # noqa: S606 (our own interpreter and module, no shell)
