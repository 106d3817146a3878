"""The one Alembic runner: each store of a tenant database migrates through it.

A tenant database holds several independently versioned stores (the agreement service's
tables, the bus's outbox and inbox beside them, a connector's state in its own database).
Each declares a :class:`MigrationHistory`: where its scripts are, which version table it keeps
and its metadata. Migrations always run on a connection handed in here (never from a URL in
a config file), so they reach exactly the tenant database the caller opened.

Each store's ``migrations/env.py`` is the same three lines: ``run_migrations(HISTORY)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData


@dataclass(frozen=True)
class MigrationHistory:
    """One store's migrations: scripts, version table and the metadata they build."""

    name: str
    script_location: Path
    version_table: str
    metadata: MetaData

    def config(self, connection: Connection | None = None) -> Config:
        """Alembic's configuration of this history (without a connection: to read scripts)."""
        config = Config()
        config.set_main_option("script_location", str(self.script_location))
        config.attributes["connection"] = connection
        config.attributes["history"] = self
        return config

    def upgrade(self, connection: Connection, revision: str = "head") -> None:
        """Bring the store to ``revision`` on ``connection`` (the caller commits)."""
        command.upgrade(self.config(connection), revision)

    def downgrade(self, connection: Connection, revision: str = "base") -> None:
        command.downgrade(self.config(connection), revision)

    def upgrade_engine(self, engine: Engine, revision: str = "head") -> None:
        """:meth:`upgrade` in a transaction of its own."""
        with engine.begin() as connection:
            self.upgrade(connection, revision)

    def downgrade_engine(self, engine: Engine, revision: str = "base") -> None:
        with engine.begin() as connection:
            self.downgrade(connection, revision)

    def current_revision(self, connection: Connection) -> str | None:
        migration = MigrationContext.configure(
            connection, opts={"version_table": self.version_table}
        )
        return migration.get_current_revision()


def run_migrations(history: MigrationHistory) -> None:
    """The body of every store's ``env.py``: online only, on the connection handed in."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            f"{history.name} migrations run through `integra migrate` (tenants.migrations), "
            "which passes a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=history.metadata,
        version_table=history.version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
