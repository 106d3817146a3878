"""The agreement service's migrations on a fresh PostgreSQL database and a fresh SQLite file.

Each backend gets a database of its own (created and dropped here, with a unique
INTEGRA_DATABASE_PREFIX), never the shared test tenants: up from empty to head creates every
table of the models, the migrated schema matches the models (autogenerate finds nothing),
down to base leaves only ``alembic_version``, and up again works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from services.agreements import (
    migrate,
    models,  # noqa: F401  (registers every table)
)
from services.agreements.db import Base
from tenants.databases import create_tenant_engine, drop_database, ensure_database
from tenants.registry import Tenant, load_registry
from tenants.settings import Settings, load_settings

#: Made by migrations 0003 (client names), o0005 (offer search) and 0008 (client search
#: key) on PostgreSQL only.
TRIGRAM_INDEXES = {
    "ix_clients_search_name_trgm",
    "ix_clients_family_name_trgm",
    "ix_clients_given_name_trgm",
    "ix_offer_services_search_fts",
    "ix_offer_services_search_trgm",
}

TENANT = "freiburg"


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrate.HISTORY.config()).get_current_head()
    assert head is not None
    return head


def fresh_database(settings: Settings) -> Iterator[Engine]:
    tenant: Tenant = load_registry(settings.tenants_dir).require(TENANT)
    drop_database(settings, tenant)  # a leftover of an aborted run would not be fresh
    assert ensure_database(settings, tenant) is True
    engine = create_tenant_engine(settings, tenant, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(settings, tenant)


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path, run_id: str) -> Iterator[Engine]:
    env = {"INTEGRA_HOME": str(tmp_path)}
    if request.param == "postgresql":
        env["INTEGRA_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["INTEGRA_DATABASE_PREFIX"] = f"mtest_{run_id}"
    yield from fresh_database(load_settings(env))


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def schema_differences(engine: Engine) -> list[object]:
    opts: dict[str, object] = {"compare_type": True}
    if engine.dialect.name == "postgresql":
        # SQLite has no identity columns, so only PostgreSQL can compare server defaults.
        opts["compare_server_default"] = True
    # The trigram indexes of client search are PostgreSQL expression indexes that only the
    # migration knows (0003); the models cannot declare them for both backends.
    opts["include_object"] = lambda obj, name, kind, reflected, other: (
        not (kind == "index" and name in TRIGRAM_INDEXES)
    )
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def append_only_triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return {row[0] for row in connection.execute(text(query))}


def test_up_from_empty_down_to_base_and_up_again(empty_engine: Engine) -> None:
    engine = empty_engine
    assert tables(engine) == set()
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert tables(engine) == set(Base.metadata.tables) | {"alembic_version"}
    assert migrate.current_revision(engine) == head_revision()
    assert schema_differences(engine) == []
    assert append_only_triggers(engine), "the audit log is append-only in the database"

    migrate.downgrade(engine)
    assert tables(engine) == {"alembic_version"}
    assert migrate.current_revision(engine) is None
    assert append_only_triggers(engine) == set()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            functions = connection.execute(
                text("SELECT proname FROM pg_proc WHERE proname LIKE 'audit_events%'")
            ).all()
        assert functions == []

    migrate.upgrade(engine)
    assert tables(engine) == set(Base.metadata.tables) | {"alembic_version"}
    assert migrate.current_revision(engine) == head_revision()
    assert schema_differences(engine) == []


def test_every_revision_goes_down_and_up_one_step(empty_engine: Engine) -> None:
    """Each revision's downgrade undoes exactly its upgrade (not only the whole history)."""
    script = ScriptDirectory.from_config(migrate.HISTORY.config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for position, revision in enumerate(revisions):
        migrate.upgrade(engine=empty_engine, revision=revision)
        after_up = tables(empty_engine)
        previous = revisions[position - 1] if position else "base"
        migrate.downgrade(empty_engine, previous)
        migrate.upgrade(empty_engine, revision)
        assert tables(empty_engine) == after_up, revision
        assert migrate.current_revision(empty_engine) == revision
    assert schema_differences(empty_engine) == []


def test_upgrading_twice_changes_nothing(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == head_revision()
    assert schema_differences(empty_engine) == []
