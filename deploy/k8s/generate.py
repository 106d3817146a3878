"""``integra deploy k8s``: Kubernetes manifests for an installation, generated from the tenant
registry, validated against the vendored schemas before anything is written.

The output folder holds one file per concern, in the order ``kubectl apply -f DIR -R``
needs (numbered), and one file per tenant under ``tenants/``; adding a tenant to the registry
and generating again adds its file and changes nothing else but the registry ConfigMaps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from deploy.k8s import backing, workloads
from deploy.k8s.options import K8sOptions
from deploy.k8s.validation import ManifestError, problems
from tenants.registry import Registry, Tenant

Manifests = dict[str, list[dict[str, Any]]]
#: libyaml's emitter where PyYAML has it (ten times faster at 400 tenants), else Python's.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def registry_files(tenants_dir: Path, tenants: Iterable[Tenant]) -> list[Path]:
    return [tenants_dir / f"{tenant.slug}.toml" for tenant in tenants]


def revision(files: list[Path]) -> str:
    """A short digest of the registry: names the migrate Job, so a changed registry (a new
    tenant) gets a Job of its own."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def generate(registry: Registry, tenants_dir: Path, options: K8sOptions) -> Manifests:
    """File name → manifests, for every enabled tenant of ``registry``."""
    tenants = registry.enabled()
    files = registry_files(tenants_dir, tenants)
    config = workloads.registry_configmaps(options, files)
    out: Manifests = {
        "00-namespace.yaml": [workloads.namespace(options)],
        "10-config.yaml": [
            workloads.platform_config(options),
            *config,
            workloads.secrets_volume_claim(options),
        ],
        "20-postgres.yaml": backing.postgres(options),
        "30-rabbitmq.yaml": backing.rabbitmq(options),
        "40-migrate.yaml": [workloads.migrate_job(options, len(config), revision(files))],
        "50-workloads.yaml": workloads.workloads(options, len(config)),
    }
    for tenant in tenants:
        out[f"tenants/{tenant.slug}.yaml"] = [
            *backing.tenant_broker(options, tenant),
            workloads.tenant_ingress(options, tenant),
        ]
    return out


def check(manifests: Manifests) -> None:
    """Raise ManifestError listing every invalid manifest (file, kind, name, problems)."""
    found = []
    for filename, documents in manifests.items():
        for manifest in documents:
            for problem in problems(manifest):
                name = (manifest.get("metadata") or {}).get("name")
                found.append(f"{filename}: {manifest.get('kind')} {name}: {problem}")
    if found:
        raise ManifestError("\n".join(found))


def write(manifests: Manifests, out: Path) -> list[Path]:
    """Validate everything, then write it; nothing is written when one manifest is invalid."""
    check(manifests)
    written = []
    for filename, documents in manifests.items():
        path = out / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.dump_all(documents, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
