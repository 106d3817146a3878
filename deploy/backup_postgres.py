"""A tenant's schemas on PostgreSQL: dumped with ``pg_dump -Fc -n <schema>`` and restored
into the tenant's schemas with ``pg_restore``, owned by the tenant's roles.

Dumps of all the tenant's schemas share one snapshot (``pg_export_snapshot``), so the
agreement service's and the connectors' data are from the same moment.

A restore never edits a schema in place. Each dump is restored in one transaction, as the
store's own role (``--role``, without the dump's owners and grants: the roles of another
installation need not exist here), into a schema of the dump's original name; that schema is
then renamed to this installation's name (another database prefix) while the schema it
replaces waits aside under a temporary name. Only when every store is restored are the old
schemas dropped; if any step fails, the new ones are dropped and the old ones renamed back.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from deploy.tenant_data import Store, admin_url, libpq_args
from tenants.databases import ensure_database, login_role, tenant_identifier
from tenants.registry import Tenant
from tenants.settings import Settings


class PostgresToolError(Exception):
    """pg_dump or pg_restore refused, or a schema is not as expected; the message carries
    PostgreSQL's own words."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run(command: list[str], env: dict[str, str]) -> str:
    import os

    done = subprocess.run(  # noqa: S603 - fixed programs, arguments from our own names
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PostgresToolError(f"{command[0]}: {done.stderr.strip() or done.returncode}")
    return done.stdout


@contextmanager
def _admin(settings: Settings, tenant: Tenant, *, autocommit: bool = True) -> Iterator[Connection]:
    engine = create_engine(
        admin_url(settings, tenant),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT" if autocommit else "REPEATABLE READ",
    )
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def dump_schemas(
    settings: Settings, tenant: Tenant, stores: list[Store], folder: Path
) -> dict[str, str]:
    """Dump each store's schema to ``folder/<label>.dump`` from one snapshot; returns
    label -> schema name."""
    url = admin_url(settings, tenant)
    args, env = libpq_args(url)
    names = {s.label: tenant_identifier(settings, tenant, s.service) for s in stores}
    with _admin(settings, tenant, autocommit=False) as conn:
        present = set(
            conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname = ANY(:n)"),
                {"n": list(names.values())},
            ).scalars()
        )
        missing = sorted(set(names.values()) - present)
        if missing:
            raise PostgresToolError(f"not provisioned: schemas {missing} do not exist")
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        for label, schema in names.items():
            _run(
                ["pg_dump", *args, "--format=custom", f"--snapshot={snapshot}",
                 f"--schema={schema}", f"--file={folder / f'{label}.dump'}"],
                env,
            )  # fmt: skip
        conn.rollback()
    return names


def check_dump(dump: Path) -> None:
    """pg_restore can read the dump's table of contents (before anything is changed)."""
    _run(["pg_restore", "--list", str(dump)], {})


def sessions_of_platform(settings: Settings, tenant: Tenant) -> int:
    """Open connections of the platform's login role to the tenant's shard (a running
    platform, or one of its workers)."""
    with _admin(settings, tenant) as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE usename = :u AND datname = current_database()"
        )
        return int(conn.execute(query, {"u": login_role(settings)}).scalar_one())


@dataclass
class _Swap:
    target: str  # this installation's schema name
    restored: str  # the name the dump restores under (the original one)
    aside: str | None = None  # where the schema being replaced waits
    created: bool = False  # the restored schema exists (under ``restored``)
    renamed: bool = False  # ... and has its target name


def restore_schemas(
    settings: Settings, tenant: Tenant, dumps: list[tuple[Store, str, Path]]
) -> None:
    """Restore ``(store, original schema name, dump file)`` for each store, all or nothing."""
    swaps: list[_Swap] = []
    try:
        for store, original, dump in dumps:
            ensure_database(settings, tenant, store.service)  # role, shard, extensions
            swap = _Swap(tenant_identifier(settings, tenant, store.service), original)
            swaps.append(swap)
            _restore_one(settings, tenant, swap, dump)
    except Exception:
        _undo(settings, tenant, swaps)
        raise
    with _admin(settings, tenant) as conn:
        for swap in swaps:
            if swap.aside:
                conn.execute(text(f"DROP SCHEMA {_quote(swap.aside)} CASCADE"))


def _schema_exists(conn: Connection, name: str) -> bool:
    query = text("SELECT 1 FROM pg_namespace WHERE nspname = :n")
    return conn.execute(query, {"n": name}).scalar() is not None


def _restore_one(settings: Settings, tenant: Tenant, swap: _Swap, dump: Path) -> None:
    role = swap.target  # each store's role has its schema's name
    with _admin(settings, tenant) as conn:
        if swap.restored != swap.target and _schema_exists(conn, swap.restored):
            raise PostgresToolError(
                f"schema {swap.restored} (the backup's name) exists here and is not this tenant's"
            )
        if _schema_exists(conn, swap.target):
            swap.aside = f"restore_aside_{secrets.token_hex(6)}"
            conn.execute(text(f"ALTER SCHEMA {_quote(swap.target)} RENAME TO {_quote(swap.aside)}"))
        conn.execute(text(f"CREATE SCHEMA {_quote(swap.restored)} AUTHORIZATION {_quote(role)}"))
        swap.created = True
    listing = dump.with_suffix(".list")
    toc = _run(["pg_restore", "--list", str(dump)], {})
    # the schema exists already (owned by the role): restore everything in it, not it
    listing.write_text("".join(ln + "\n" for ln in toc.splitlines() if " SCHEMA - " not in ln))
    args, env = libpq_args(admin_url(settings, tenant))
    _run(
        ["pg_restore", *args, "--single-transaction", "--exit-on-error", "--no-owner",
         "--no-privileges", f"--role={role}", f"--use-list={listing}", str(dump)],
        env,
    )  # fmt: skip
    with _admin(settings, tenant) as conn:
        if swap.restored != swap.target:
            conn.execute(
                text(f"ALTER SCHEMA {_quote(swap.restored)} RENAME TO {_quote(swap.target)}")
            )
        swap.renamed = True
        conn.execute(text(f"REVOKE ALL ON SCHEMA {_quote(swap.target)} FROM PUBLIC"))


def _undo(settings: Settings, tenant: Tenant, swaps: list[_Swap]) -> None:
    with _admin(settings, tenant) as conn:
        for swap in reversed(swaps):
            if swap.created:
                new = swap.target if swap.renamed else swap.restored
                conn.execute(text(f"DROP SCHEMA IF EXISTS {_quote(new)} CASCADE"))
            if swap.aside:
                conn.execute(
                    text(f"ALTER SCHEMA {_quote(swap.aside)} RENAME TO {_quote(swap.target)}")
                )
