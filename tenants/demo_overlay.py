"""The demo overlay: partner addresses that only hold while partner simulators run.

The pilot registry files name what a municipality's partner agencies really are (kind, channel,
authority id), never where a simulator answers. The simulators' addresses live apart, in
``<registry>/demo/partners.toml``, and are laid over the registry only when ``integra up`` runs
simulators (the embedded default with demo data, or ``--simulate``). In production the overlay
is never read, so no referral can go to a demo address by mistake.

Format: a table per tenant and agency kind, ``[<slug>.<kind>]``, whose keys replace the
partner's fields (``webhook_url``, ``exchange_folder``). ``{gateway}`` in a value stands for
the address where ``integra up`` serves the simulators.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from tenants.registry import PartnerEntry, PartnerSchema, Registry, RegistryError, Tenant

OVERLAY_FILE = Path("demo") / "partners.toml"
#: The fields an overlay may replace: addresses, never what the partner is.
OVERLAY_FIELDS = frozenset({"webhook_url", "exchange_folder"})


def overlay_path(registry_dir: Path) -> Path:
    return registry_dir / OVERLAY_FILE


def load_overlay(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """``{slug: {kind: {field: value}}}`` from an overlay file; {} if there is none."""
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            raw: dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: not a readable overlay: {exc}") from exc
    overlay: dict[str, dict[str, dict[str, str]]] = {}
    for slug, partners in raw.items():
        if not isinstance(partners, dict):
            raise RegistryError(f"{path}: [{slug}] must be a table of agency kinds")
        for kind, values in partners.items():
            if not isinstance(values, dict) or not values:
                raise RegistryError(f"{path}: [{slug}.{kind}] must be a table of fields")
            unknown = set(values) - OVERLAY_FIELDS
            if unknown:
                raise RegistryError(
                    f"{path}: [{slug}.{kind}]: {sorted(unknown)} cannot be overlaid "
                    f"(only {sorted(OVERLAY_FIELDS)})"
                )
            overlay.setdefault(slug, {})[kind] = {k: str(v) for k, v in values.items()}
    return overlay


def _overlaid(partner: PartnerEntry, values: dict[str, str], source: str) -> PartnerEntry:
    merged = {k: v for k, v in dataclasses.asdict(partner).items() if v is not None}
    merged.update(values)
    try:
        entry: PartnerEntry = PartnerSchema().load(merged)
    except ValidationError as exc:
        raise RegistryError(f"{source}: {exc.messages}") from exc
    return entry


def apply_overlay(registry: Registry, path: Path, *, gateway: str) -> Registry:
    """``registry`` with the overlay at ``path`` laid over its partners, ``{gateway}``
    replaced. An overlay naming an unknown tenant or partner is refused: it would otherwise
    silently leave a partner at its production address while simulators run."""
    overlay = load_overlay(path)
    tenants: dict[str, Tenant] = dict(registry.tenants)
    for slug, partners in overlay.items():
        tenant = tenants.get(slug)
        if tenant is None:
            continue  # a tenant this installation does not serve (e.g. a test's registry copy)
        replaced = []
        for partner in tenant.partners:
            values = partners.pop(partner.kind, None)
            if values is not None:
                values = {k: v.replace("{gateway}", gateway) for k, v in values.items()}
                partner = _overlaid(partner, values, f"{path}: [{slug}.{partner.kind}]")
            replaced.append(partner)
        if partners:
            raise RegistryError(f"{path}: {slug} has no partner of kind {sorted(partners)}")
        tenants[slug] = dataclasses.replace(tenant, partners=tuple(replaced))
    return Registry(tenants)
