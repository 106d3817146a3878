"""Where a tenant's data lives, as the operator's tools see it: every store of the tenant (the
agreement service's and each connector's), its schema name or SQLite file, whether it is
there, and the operator's connection to the server that holds it.

``tenants.databases`` decides the layout; this module only names its parts for backup,
restore and adding a tenant, so they all agree on what "the tenant's data" is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tenants.databases import shard_database, sqlite_path, tenant_identifier, uses_sqlite
from tenants.registry import Tenant
from tenants.settings import Settings
from tenants.vocabulary import SERVICE_CODES


@dataclass(frozen=True)
class Store:
    """One database of a tenant: the agreement service's (``service`` None) or a connector's."""

    service: str | None

    @property
    def label(self) -> str:
        """Its name inside a backup archive."""
        return self.service or "agreements"


def stores(tenant: Tenant) -> list[Store]:
    return [Store(None), *(Store(SERVICE_CODES[p.kind]) for p in tenant.partners)]


def admin_url(settings: Settings, tenant: Tenant, *, shard: bool = True) -> URL:
    """The operator's URL of the server holding the tenant, on its shard database (or, with
    ``shard`` False, on the database the configured URL names, for cluster-wide queries)."""
    if tenant.database.url:
        url = make_url(tenant.database.url)
    else:
        assert settings.database_url is not None
        url = settings.database_url
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.set(database=shard_database(settings, tenant)) if shard else url


def libpq_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options and environment for pg_dump/pg_restore (the password goes in the
    environment, never on a command line that ``ps`` shows)."""
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    args += ["--dbname", str(url.database)]
    env = {"PGPASSWORD": url.password} if url.password else {}
    return args, env


def present_schemas(settings: Settings, tenant: Tenant) -> set[str]:
    """Which of the tenant's schemas exist on PostgreSQL (none if its shard does not)."""
    names = [tenant_identifier(settings, tenant, s.service) for s in stores(tenant)]
    engine = create_engine(admin_url(settings, tenant), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname = ANY(:n)"), {"n": names}
            )
            return set(rows.scalars())
    except OperationalError:  # the shard database does not exist (yet)
        return set()
    finally:
        engine.dispose()


def store_present(settings: Settings, tenant: Tenant, service: str | None) -> bool:
    """Whether anything of one store exists: its SQLite file, or its schema or role."""
    if uses_sqlite(settings, tenant):
        return sqlite_path(settings, tenant, service).exists()
    name = tenant_identifier(settings, tenant, service)
    if name in present_schemas(settings, tenant):
        return True
    engine = create_engine(admin_url(settings, tenant, shard=False), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = text("SELECT 1 FROM pg_roles WHERE rolname = :n")
            return conn.execute(query, {"n": name}).scalar() is not None
    finally:
        engine.dispose()


def data_present(settings: Settings, tenant: Tenant, *, secrets: bool = True) -> list[str]:
    """What of the tenant's data exists here (empty: nothing): its databases and (unless
    ``secrets`` is False) its keys and secrets."""
    found: list[str] = []
    if uses_sqlite(settings, tenant):
        found += [
            str(sqlite_path(settings, tenant, s.service))
            for s in stores(tenant)
            if sqlite_path(settings, tenant, s.service).exists()
        ]
    else:
        found += [f"schema {name}" for name in sorted(present_schemas(settings, tenant))]
    folder: Path = settings.tenant_secrets_dir(tenant.slug)
    if secrets and folder.exists() and any(folder.iterdir()):
        found.append(str(folder))
    return found
