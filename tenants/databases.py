"""Where each tenant's data lives, how it is created, and the engine that reaches it.

PostgreSQL: a schema per tenant (and one per connector service of the tenant) in a shared
database, each owned by a role of its own that cannot log in. The platform logs in as one
role (``<prefix>``, NOINHERIT: by itself it may read no tenant's tables) that is a member of
every tenant role, and every transaction of a tenant's engine begins with ``SET LOCAL ROLE
<tenant role>`` and ``SET LOCAL search_path``: PostgreSQL itself then refuses any table of
another tenant (``permission denied for schema``), and the connections are shared by all
tenants of a process, so 400 tenants need no more connections than 18 (``docs/scale.md`` has
the figures behind this choice). ``SET LOCAL`` ends with the transaction, so the layout works
through a pooler in transaction mode too.

Names derive from ``INTEGRA_DATABASE_PREFIX``: the shared database and the login role are
``<prefix>``, a tenant's schema and role ``<prefix>_<tenant>`` and a connector's
``<prefix>_<tenant>_<service>``. A registry file may place its tenant in a database of its own
(``[database] name``) or on another server (``[database] url``): a shard with the same layout.

Embedded default: one SQLite file per tenant (and per connector service) under
``var/tenants/``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.base import OptionEngine
from sqlalchemy.pool import NullPool

from tenants.registry import Tenant
from tenants.secrets import create_private_file, new_password, read_or_create
from tenants.settings import Settings

LOGIN_PASSWORD_FILE = "database-password"  # noqa: S105 - a file name
#: Extensions the tenants' migrations use, created once per shard database by the operator's
#: role (a tenant's role may not create them): trigram search and accent folding.
EXTENSIONS = ("pg_trgm", "unaccent")


def tenant_identifier(settings: Settings, tenant: Tenant, service: str | None = None) -> str:
    """Schema and role name of a tenant (or one of its services) on PostgreSQL."""
    base = f"{settings.database_prefix}_{tenant.slug.replace('-', '_')}"
    name = f"{base}_{service}" if service else base
    if len(name) > 63:
        raise ValueError(f"schema name {name!r} exceeds PostgreSQL's 63 characters")
    return name


def login_role(settings: Settings) -> str:
    """The role the platform's processes log in as (member of every tenant role)."""
    return settings.database_prefix


def sqlite_path(settings: Settings, tenant: Tenant, service: str | None = None) -> Path:
    name = f"{tenant.slug}.{service}" if service else tenant.slug
    return settings.var_dir / "tenants" / f"{name}.sqlite3"


def uses_sqlite(settings: Settings, tenant: Tenant) -> bool:
    return settings.embedded and not tenant.database.url


def _server_url(settings: Settings, tenant: Tenant) -> URL:
    """The operator's URL of the tenant's server (a role that may create roles and databases)."""
    if tenant.database.url:
        url = make_url(tenant.database.url)
        return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url
    assert settings.database_url is not None
    return settings.database_url


def shard_database(settings: Settings, tenant: Tenant) -> str:
    """The database holding the tenant's schemas: shared unless the registry names one."""
    if tenant.database.name:
        return tenant.database.name
    if tenant.database.url and make_url(tenant.database.url).database:
        return str(make_url(tenant.database.url).database)
    return settings.database_prefix


def _login_password(settings: Settings) -> str:
    """Generated at the first provisioning and kept under var/secrets (never in the repo)."""
    return read_or_create(settings.secrets_dir / LOGIN_PASSWORD_FILE, new_password).strip()


def shard_url(settings: Settings, tenant: Tenant) -> URL:
    """Where the platform connects for this tenant: its shard, as the platform's login role."""
    return _server_url(settings, tenant).set(
        database=shard_database(settings, tenant),
        username=login_role(settings),
        password=_login_password(settings),
    )


# --- engines ------------------------------------------------------------------------------------


class TenantEngine(OptionEngine):
    """The process's engine of the tenant's shard, narrowed to one tenant (or service): every
    transaction runs as the tenant's role with its schema first on the search path.

    It shares the shard's connection pool with every other tenant of the process, so
    ``dispose`` does nothing: the pool belongs to the process (:func:`dispose_shared_engines`).
    """

    schema: str
    #: The shard's engine itself, logged in as the platform's role (no tenant role taken):
    #: for the outbox sweeper's one query over every tenant's ``sent_at`` column.
    shared: Engine

    def dispose(self, close: bool = True) -> None:
        return None


def _enter_tenant(schema: str) -> Any:
    quoted = _quote(schema)
    statement = f"SET LOCAL ROLE {quoted}; SET LOCAL search_path TO {quoted}, public"

    def begin(connection: Connection) -> None:
        connection.exec_driver_sql(statement)

    return begin


class _SharedEngines:
    """One engine per shard URL in this process, made on first use."""

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def get(self, url: URL, pool_size: int) -> Engine:
        key = url.render_as_string(hide_password=False)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = self._engines[key] = create_engine(
                    url,
                    pool_size=pool_size,
                    max_overflow=pool_size,
                    pool_timeout=30,
                    pool_pre_ping=True,
                    pool_recycle=1800,
                )
            return engine

    def dispose(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.dispose()

    def connections(self) -> int:
        """Connections the process holds open (pooled or checked out), for the figures."""
        with self._lock:
            engines = list(self._engines.values())
        return sum(engine.pool.checkedin() + engine.pool.checkedout() for engine in engines)  # type: ignore[attr-defined]


_shared = _SharedEngines()


def dispose_shared_engines() -> None:
    """Close every shared pool of this process (at shutdown, and in tests between runs)."""
    _shared.dispose()


def open_connections() -> int:
    return _shared.connections()


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


def sqlite_engine(path: Path, *, pool_size: int = 5) -> Engine:
    """An engine on a tenant's SQLite file (created private if missing). ``pool_size`` 0:
    no pool, the file is opened per transaction and closed after it (background work of
    hundreds of tenants: no file held open per idle tenant)."""
    create_private_file(path)
    pooling: dict[str, Any] = (
        {"poolclass": NullPool}
        if pool_size == 0
        else {"pool_size": pool_size, "max_overflow": pool_size}
    )
    engine = create_engine(
        URL.create("sqlite", database=str(path)),
        connect_args={"check_same_thread": False, "timeout": 30},
        **pooling,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def create_tenant_engine(
    settings: Settings, tenant: Tenant, *, pool_size: int | None = None, service: str | None = None
) -> Engine:
    """An engine that reaches this tenant's (or its service's) data and nothing else.

    PostgreSQL: a :class:`TenantEngine` over the process's shared pool of the shard
    (``pool_size`` of the shared pool is ``INTEGRA_DATABASE_POOL_SIZE``; the argument is for
    SQLite). SQLite: an engine of its own on the tenant's file; dispose it when done.
    """
    if uses_sqlite(settings, tenant):
        size = 5 if pool_size is None else pool_size
        return sqlite_engine(sqlite_path(settings, tenant, service), pool_size=size)
    shared = _shared.get(shard_url(settings, tenant), settings.database_pool_size)
    schema = tenant_identifier(settings, tenant, service)
    engine = TenantEngine(shared, {})
    engine.schema = schema
    engine.shared = shared
    event.listen(engine, "begin", _enter_tenant(schema))
    return engine


# --- provisioning -----------------------------------------------------------------------------


def _admin_engine(settings: Settings, tenant: Tenant, database: str | None = None) -> Engine:
    url = _server_url(settings, tenant)
    if database is not None:
        url = url.set(database=database)
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """DDL takes no bind parameters; the password is URL-safe base64, quoted regardless."""
    return "'" + value.replace("'", "''") + "'"


def _exists(conn: Connection, catalog: str, column: str, name: str) -> bool:
    query = text(f"SELECT 1 FROM {catalog} WHERE {column} = :n")  # noqa: S608 - fixed names
    return conn.execute(query, {"n": name}).scalar() is not None


def _ensure_shard(settings: Settings, tenant: Tenant, admin: Connection) -> None:
    """The shared database and the platform's login role (idempotent)."""
    login, database = login_role(settings), shard_database(settings, tenant)
    password = _login_password(settings)
    verb = "ALTER" if _exists(admin, "pg_roles", "rolname", login) else "CREATE"
    admin.execute(
        text(f"{verb} ROLE {_quote(login)} LOGIN NOINHERIT PASSWORD {_literal(password)}")
    )
    if not _exists(admin, "pg_database", "datname", database):
        admin.execute(text(f"CREATE DATABASE {_quote(database)}"))
    # only the platform's role may connect; tenant roles cannot log in at all
    admin.execute(text(f"REVOKE ALL ON DATABASE {_quote(database)} FROM PUBLIC"))
    admin.execute(text(f"GRANT CONNECT ON DATABASE {_quote(database)} TO {_quote(login)}"))


#: Provisioning runs in parallel processes (``migrate --all``); roles, the shared database and
#: its extensions are cluster objects that concurrent DDL would trip over ("tuple
#: concurrently updated"), so every provisioning step holds this advisory lock.
PROVISIONING_LOCK = 0x1A7E6B


def ensure_database(settings: Settings, tenant: Tenant, service: str | None = None) -> bool:
    """Create the tenant's (or service's) schema and role if missing; True if it created the
    schema. Idempotent, and safe to repeat after an interrupted run."""
    if uses_sqlite(settings, tenant):
        return create_private_file(sqlite_path(settings, tenant, service))
    name = tenant_identifier(settings, tenant, service)
    admin = _admin_engine(settings, tenant)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PROVISIONING_LOCK})
            try:
                _ensure_shard(settings, tenant, conn)
                if not _exists(conn, "pg_roles", "rolname", name):
                    conn.execute(text(f"CREATE ROLE {_quote(name)} NOLOGIN"))
                conn.execute(text(f"GRANT {_quote(name)} TO {_quote(login_role(settings))}"))
                return _ensure_schema(settings, tenant, name)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PROVISIONING_LOCK})
    finally:
        admin.dispose()


def _ensure_schema(settings: Settings, tenant: Tenant, name: str) -> bool:
    shard = _admin_engine(settings, tenant, shard_database(settings, tenant))
    try:
        with shard.connect() as conn:
            for extension in EXTENSIONS:
                conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA public"))
            created = not _exists(conn, "pg_namespace", "nspname", name)
            if created:
                conn.execute(text(f"CREATE SCHEMA {_quote(name)} AUTHORIZATION {_quote(name)}"))
            conn.execute(text(f"REVOKE ALL ON SCHEMA {_quote(name)} FROM PUBLIC"))
    finally:
        shard.dispose()
    return created


def drop_database(settings: Settings, tenant: Tenant, service: str | None = None) -> None:
    """Remove a tenant's (or its service's) schema with its data, and its role."""
    if uses_sqlite(settings, tenant):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(settings, tenant, service)}{suffix}").unlink(missing_ok=True)
        return
    name = tenant_identifier(settings, tenant, service)
    shard = _admin_engine(settings, tenant)
    try:
        with shard.connect() as conn:
            present = _exists(conn, "pg_database", "datname", shard_database(settings, tenant))
    finally:
        shard.dispose()
    if present:
        shard = _admin_engine(settings, tenant, shard_database(settings, tenant))
        try:
            with shard.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {_quote(name)} CASCADE"))
        finally:
            shard.dispose()
    admin = _admin_engine(settings, tenant)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {_quote(name)}"))
    finally:
        admin.dispose()


def drop_prefix(settings: Settings) -> list[str]:
    """Drop every database and role named ``<prefix>`` or ``<prefix>_…`` on the server of
    INTEGRA_DATABASE_URL; returns the databases dropped. For benchmark and test runs, which
    each work under a prefix of their own, and to find what a tenant deletion left behind."""
    assert settings.database_url is not None
    dispose_shared_engines()
    engine = create_engine(settings.database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    prefix = settings.database_prefix
    pattern = prefix.replace("_", r"\_") + r"\_%"
    try:
        with engine.connect() as conn:
            names = list(
                conn.execute(
                    text("SELECT datname FROM pg_database WHERE datname = :n OR datname LIKE :p"),
                    {"n": prefix, "p": pattern},
                ).scalars()
            )
            for name in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))
            roles = list(
                conn.execute(
                    text("SELECT rolname FROM pg_roles WHERE rolname = :n OR rolname LIKE :p"),
                    {"n": prefix, "p": pattern},
                ).scalars()
            )
            for role in sorted(roles, key=len, reverse=True):  # tenant roles before the login
                conn.execute(text(f"DROP ROLE IF EXISTS {_quote(role)}"))
    finally:
        engine.dispose()
    return names
