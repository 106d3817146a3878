"""``integra backup`` and ``integra restore``: one tenant's data, keys and registry file in
one archive (deploy/backup_archive.py), and back.

What a backup holds: every store of the tenant (PostgreSQL: a ``pg_dump`` of each schema from
one snapshot; embedded: a copy of each SQLite file taken with sqlite3's backup API, safe while
the platform runs), its keys and generated passwords (var/secrets/<tenant>/) and its registry
file. Not in it: messages in flight on the bus (the outbox rows in the database are; an
inbox makes a redelivered message harmless).

A restore checks the whole archive before it changes anything, refuses to overwrite a tenant
that exists here unless told to (``replace``), restores every store all or nothing, writes the
secrets back through the one secret writer (tenants.secrets) and then provisions the tenant
as ``integra migrate`` does: a backup from an older release is migrated, the bus users get the
restored passwords.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from deploy.backup_archive import (
    Manifest,
    StoreEntry,
    now,
    open_archive,
    secrets_members,
    staged_files,
    write_archive,
)
from deploy.backup_postgres import (
    check_dump,
    dump_schemas,
    restore_schemas,
    sessions_of_platform,
)
from deploy.provisioning import provision_tenant
from deploy.tenant_data import data_present, stores
from tenants.databases import dispose_shared_engines, sqlite_path, uses_sqlite
from tenants.registry import RegistryError, Tenant, load_tenant_file
from tenants.secrets import create_private_file, private_dir, write_secret
from tenants.settings import Settings


class BackupError(Exception):
    """A backup could not be taken (the tenant is not provisioned here)."""


class RestoreRefused(Exception):
    """A restore was refused before anything was changed."""


@dataclass(frozen=True)
class RestoreResult:
    tenant: str
    replaced: bool
    revision: str | None
    created_at: str


def backup_tenant(settings: Settings, tenant: Tenant, out: Path) -> Manifest:
    """Write the tenant's archive to ``out`` (replacing a file there only once it is
    complete)."""
    with tempfile.TemporaryDirectory(prefix="integra-backup-") as tmp:
        staged = Path(tmp)
        private_dir(staged / "db")
        entries = _stage_stores(settings, tenant, staged / "db")
        registry_file = settings.tenants_dir / f"{tenant.slug}.toml"
        private_dir(staged / "registry")
        (staged / "registry" / registry_file.name).write_bytes(registry_file.read_bytes())
        secrets = settings.tenant_secrets_dir(tenant.slug)
        for path in sorted(secrets.rglob("*")) if secrets.exists() else []:
            if path.is_file() and not path.name.startswith("."):
                target = staged / "secrets" / path.relative_to(secrets)
                private_dir(target.parent)
                target.write_bytes(path.read_bytes())
        manifest = Manifest(
            tenant=tenant.slug,
            backend="sqlite" if uses_sqlite(settings, tenant) else "postgresql",
            created_at=now(),
            stores=tuple(entries),
            files=staged_files(staged),
        )
        write_archive(out, staged, manifest)
    return manifest


def _stage_stores(settings: Settings, tenant: Tenant, folder: Path) -> list[StoreEntry]:
    tenant_stores = stores(tenant)
    if not uses_sqlite(settings, tenant):
        names = dump_schemas(settings, tenant, tenant_stores, folder)
        return [
            StoreEntry(s.label, s.service, f"db/{s.label}.dump", names[s.label])
            for s in tenant_stores
        ]
    entries = []
    for store in tenant_stores:
        source = sqlite_path(settings, tenant, store.service)
        if not source.exists():
            raise BackupError(f"{tenant.slug}: not provisioned: {source} does not exist")
        _sqlite_copy(source, folder / f"{store.label}.sqlite3")
        entries.append(StoreEntry(store.label, store.service, f"db/{store.label}.sqlite3", None))
    return entries


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, whatever its writers are doing."""
    create_private_file(target)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def restore_archive(
    settings: Settings, known: dict[str, Tenant], archive: Path, *, replace: bool = False
) -> RestoreResult:
    """Restore the tenant of ``archive``. Raises :class:`ArchiveError` (damaged or altered
    archive) or :class:`RestoreRefused` before changing anything."""
    dispose_shared_engines()  # this process's own pooled connections are not "the platform"
    with tempfile.TemporaryDirectory(prefix="integra-restore-") as tmp:
        folder = Path(tmp)
        manifest = open_archive(archive, folder)
        tenant = _check_registry_file(folder, manifest)
        backend = "sqlite" if uses_sqlite(settings, tenant) else "postgresql"
        if backend != manifest.backend:
            raise RestoreRefused(
                f"the archive holds a {manifest.backend} backup; this installation keeps "
                f"{tenant.slug} on {backend}"
            )
        for entry in manifest.stores:
            _check_store(folder / entry.member, backend)
        replaced = _check_target(settings, known, tenant, folder, replace)
        _restore_stores(settings, tenant, manifest, folder)
        for member, relative in secrets_members(manifest):
            write_secret(
                settings.tenant_secrets_dir(tenant.slug) / relative, (folder / member).read_bytes()
            )
        _write_registry_file(settings, folder / "registry" / f"{tenant.slug}.toml")
    result = provision_tenant(settings, tenant, quick=True)
    return RestoreResult(tenant.slug, replaced, result.revision, manifest.created_at)


def _check_registry_file(folder: Path, manifest: Manifest) -> Tenant:
    path = folder / "registry" / f"{manifest.tenant}.toml"
    try:
        tenant = load_tenant_file(path)
    except RegistryError as exc:
        raise RestoreRefused(f"the archive's registry file is not valid: {exc}") from exc
    expected = {s.label for s in stores(tenant)}
    if {e.label for e in manifest.stores} != expected:
        raise RestoreRefused(f"the archive's stores do not match its registry file ({expected})")
    return tenant


def _check_store(path: Path, backend: str) -> None:
    if backend == "postgresql":
        try:
            check_dump(path)
        except Exception as exc:
            raise RestoreRefused(f"{path.name}: not a readable dump: {exc}") from exc
        return
    try:
        with closing(sqlite3.connect(path)) as conn:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise RestoreRefused(f"{path.name}: not a SQLite database: {exc}") from exc
    if verdict != "ok":
        raise RestoreRefused(f"{path.name}: damaged SQLite database: {verdict}")


def _check_target(
    settings: Settings, known: dict[str, Tenant], tenant: Tenant, folder: Path, replace: bool
) -> bool:
    """Whether the restore replaces a tenant here; refuses where it may not."""
    registry_file = settings.tenants_dir / f"{tenant.slug}.toml"
    incoming = (folder / "registry" / registry_file.name).read_bytes()
    existing = data_present(settings, tenant)
    if registry_file.exists() and registry_file.read_bytes() != incoming:
        existing.append(str(registry_file))
    clash = next(
        (t.slug for t in known.values() if t.vhost == tenant.vhost and t.slug != tenant.slug), None
    )
    if clash:
        raise RestoreRefused(f"bus vhost {tenant.vhost!r} belongs to tenant {clash!r} here")
    if existing and not replace:
        raise RestoreRefused(
            f"tenant {tenant.slug!r} exists here ({', '.join(existing)}). To overwrite it "
            "with the backup, stop the platform (integra up and its workers, the connectors) "
            "and run again with --replace"
        )
    if existing and not uses_sqlite(settings, tenant):
        sessions = sessions_of_platform(settings, tenant)
        if sessions:
            raise RestoreRefused(
                f"the platform is running ({sessions} connection(s) of its login role to the "
                f"database): stop it before replacing {tenant.slug}"
            )
    return bool(existing)


def _restore_stores(settings: Settings, tenant: Tenant, manifest: Manifest, folder: Path) -> None:
    by_label = {s.label: s for s in stores(tenant)}
    if not uses_sqlite(settings, tenant):
        restore_schemas(
            settings,
            tenant,
            [(by_label[e.label], e.schema or "", folder / e.member) for e in manifest.stores],
        )
        return
    # SQLite: each file written with the backup API (consistent even if a reader is open);
    # the current content is kept aside first, and put back if a later store fails
    kept: list[tuple[Path, Path]] = []
    try:
        for entry in manifest.stores:
            target = sqlite_path(settings, tenant, by_label[entry.label].service)
            if target.exists():
                aside = folder / f"aside-{entry.label}.sqlite3"
                _sqlite_copy(target, aside)
                kept.append((aside, target))
            _sqlite_copy(folder / entry.member, target)
    except Exception:
        for aside, target in kept:
            _sqlite_copy(aside, target)
        raise


def _write_registry_file(settings: Settings, source: Path) -> None:
    target = settings.tenants_dir / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(source.read_bytes())
    os.replace(tmp, target)
