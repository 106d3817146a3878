"""Adding and removing a municipality: its registry file and everything provisioned for it,
together, so the registry never names a tenant that has no databases and no tenant's data is
left behind without a registry file that names it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from deploy.provisioning import (
    ProvisioningFailed,
    deprovision_tenant,
    provision_new_tenant,
    provision_tenant,
)
from deploy.tenant_data import data_present
from tenants.registry import Registry, Tenant, load_tenant_file
from tenants.settings import Settings


class TenantLifecycleError(Exception):
    """Adding or deleting a tenant was refused; nothing was changed."""


@dataclass(frozen=True)
class AddResult:
    tenant: str
    action: str  # added | nothing to do | completed
    revision: str | None


def registry_file(settings: Settings, slug: str) -> Path:
    return settings.tenants_dir / f"{slug}.toml"


def add_tenant(settings: Settings, registry: Registry, file: Path) -> AddResult:
    """Register the tenant of ``file`` and provision it. Idempotent: the same file again is
    "nothing to do" (or completes what is missing). Raises :class:`RegistryError` for an
    invalid file, :class:`TenantLifecycleError` for a conflict (nothing changed), and
    :class:`ProvisioningFailed` when a step was refused (then everything is rolled back,
    the registry file included)."""
    tenant = load_tenant_file(file)
    target = registry_file(settings, tenant.slug)
    if target.exists():
        if target.read_bytes() != file.read_bytes():
            raise TenantLifecycleError(
                f"tenant {tenant.slug!r} exists with a different registry file ({target}); "
                f"edit that file and run `integra migrate {tenant.slug}`, or delete the tenant "
                "first"
            )
        result = provision_tenant(settings, tenant, quick=True)
        action = "completed" if result.created or result.migrated else "nothing to do"
        return AddResult(tenant.slug, action, result.revision)
    _check_new(settings, registry, tenant)
    shutil.copyfile(file, target)
    try:
        result = provision_new_tenant(settings, tenant)
    except ProvisioningFailed as exc:
        target.unlink(missing_ok=True)
        exc.rolled_back.append(f"registry file {target.name}")
        raise ProvisioningFailed(
            exc.tenant, exc.step, exc.cause, exc.rolled_back, exc.left
        ) from exc.cause
    return AddResult(tenant.slug, "added", result.revision)


def _check_new(settings: Settings, registry: Registry, tenant: Tenant) -> None:
    clash = next((t.slug for t in registry if t.vhost == tenant.vhost), None)
    if clash:
        raise TenantLifecycleError(
            f"{tenant.slug}: bus vhost {tenant.vhost!r} belongs to tenant {clash!r} already"
        )
    leftovers = data_present(settings, tenant, secrets=False)
    if leftovers:
        raise TenantLifecycleError(
            f"{tenant.slug}: not in the registry, but its data is here: {', '.join(leftovers)}. "
            "Restore it with `integra restore`, or remove it first"
        )


def delete_tenant(settings: Settings, tenant: Tenant) -> list[str]:
    """Drop the tenant's databases, roles and bus, then its registry file. Its keys stay
    under var/secrets (an operator removes them deliberately). Returns what was removed."""
    deprovision_tenant(settings, tenant)
    removed = ["databases and roles", "bus"]
    path = registry_file(settings, tenant.slug)
    if path.exists():
        path.unlink()
        removed.append(f"registry file {path.name}")
    return removed
