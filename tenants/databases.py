"""Each tenant's own database: where it is, how it is created, and its engine.

PostgreSQL: one database per tenant, owned by its own role, both derived from
``INTEGRA_DATABASE_URL`` (``<prefix>_<tenant>``) unless the registry file names its own.
Embedded default: one SQLite file per tenant under ``var/tenants/``.

A tenant's services that keep state apart from the agreement service (the connectors) get a
database of their own beside it, named with a ``service`` suffix: a connector cannot read the
agreement service's tables, only the messages it is sent.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from tenants.registry import Tenant
from tenants.secrets import create_private_file, new_password, read_or_create
from tenants.settings import Settings


def tenant_identifier(settings: Settings, tenant: Tenant, service: str | None = None) -> str:
    """Database and role name of a tenant (or one of its services) on PostgreSQL."""
    base = tenant.database.name or f"{settings.database_prefix}_{tenant.slug.replace('-', '_')}"
    name = f"{base}_{service}" if service else base
    if len(name) > 63:
        raise ValueError(f"database name {name!r} exceeds PostgreSQL's 63 characters")
    return name


def sqlite_path(settings: Settings, tenant: Tenant, service: str | None = None) -> Path:
    name = f"{tenant.slug}.{service}" if service else tenant.slug
    return settings.var_dir / "tenants" / f"{name}.sqlite3"


def _server_url(settings: Settings, tenant: Tenant) -> URL:
    if tenant.database.url:
        url = make_url(tenant.database.url)
        return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url
    assert settings.database_url is not None
    return settings.database_url


def _role_password(settings: Settings, tenant: Tenant, service: str | None = None) -> str:
    """The role's password, generated once at provisioning and kept under var/secrets."""
    name = f"database-password-{service}" if service else "database-password"
    return read_or_create(settings.tenant_secrets_dir(tenant.slug) / name, new_password).strip()


def tenant_database_url(settings: Settings, tenant: Tenant, service: str | None = None) -> URL:
    """The URL the tenant's service connects with: its own database, as its own role."""
    if settings.embedded and not tenant.database.url:
        return URL.create("sqlite", database=str(sqlite_path(settings, tenant, service)))
    name = tenant_identifier(settings, tenant, service)
    return _server_url(settings, tenant).set(
        database=name, username=name, password=_role_password(settings, tenant, service)
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Every transaction takes the write lock up front: nearly every request writes (audit
    events), and a deferred transaction that reads first and writes later would fail with
    "database is locked" instead of waiting for the other writer."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_tenant_engine(
    settings: Settings, tenant: Tenant, *, pool_size: int = 5, service: str | None = None
) -> Engine:
    """An engine that reaches this tenant's database and nothing else.

    Pools are small and created lazily per tenant: an idle tenant holds no connection until
    its first request (pool_pre_ping drops connections a pooler or restart closed).
    """
    url = tenant_database_url(settings, tenant, service)
    if url.get_backend_name() == "sqlite":
        assert url.database
        create_private_file(Path(url.database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _admin_engine(settings: Settings, tenant: Tenant) -> Engine:
    return create_engine(
        _server_url(settings, tenant), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """DDL takes no bind parameters; the password is URL-safe base64, quoted regardless."""
    return "'" + value.replace("'", "''") + "'"


def ensure_database(settings: Settings, tenant: Tenant, service: str | None = None) -> bool:
    """Create the tenant's role and database if missing. Returns True if it created them.

    The role owns only its database; CONNECT is revoked from PUBLIC so no other tenant's
    role can open it.
    """
    if settings.embedded and not tenant.database.url:
        return create_private_file(sqlite_path(settings, tenant, service))
    name = tenant_identifier(settings, tenant, service)
    password = _role_password(settings, tenant, service)
    admin = _admin_engine(settings, tenant)
    created = False
    try:
        with admin.connect() as conn:
            role_exists = conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}
            ).scalar()
            if not role_exists:
                conn.execute(
                    text(f"CREATE ROLE {_quote(name)} LOGIN PASSWORD {_literal(password)}")
                )
            else:
                conn.execute(text(f"ALTER ROLE {_quote(name)} LOGIN PASSWORD {_literal(password)}"))
            db_exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not db_exists:
                conn.execute(text(f"CREATE DATABASE {_quote(name)} OWNER {_quote(name)}"))
                conn.execute(text(f"REVOKE ALL ON DATABASE {_quote(name)} FROM PUBLIC"))
                created = True
    finally:
        admin.dispose()
    return created


def drop_database(settings: Settings, tenant: Tenant, service: str | None = None) -> None:
    """Remove a tenant's (or its service's) database and role (``tenant delete``; tests)."""
    if settings.embedded and not tenant.database.url:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(settings, tenant, service)}{suffix}").unlink(missing_ok=True)
        return
    name = tenant_identifier(settings, tenant, service)
    admin = _admin_engine(settings, tenant)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {_quote(name)}"))
    finally:
        admin.dispose()


def drop_prefix(settings: Settings) -> list[str]:
    """Drop every database and role named under ``settings.database_prefix`` on the server of
    INTEGRA_DATABASE_URL; returns the databases dropped. For benchmark and test runs, which
    each work under a prefix of their own, and to find what a tenant deletion left behind."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    pattern = settings.database_prefix.replace("_", r"\_") + r"\_%"
    try:
        with engine.connect() as conn:
            names = list(
                conn.execute(
                    text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": pattern}
                ).scalars()
            )
            for name in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))
            roles = list(
                conn.execute(
                    text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": pattern}
                ).scalars()
            )
            for role in roles:
                conn.execute(text(f"DROP ROLE IF EXISTS {_quote(role)}"))
    finally:
        engine.dispose()
    return names
