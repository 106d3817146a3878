"""Alembic environment of a connector's own tables (version table alembic_version_connector)."""

from __future__ import annotations

from alembic import context

from services.connectors.store import VERSION_TABLE, ConnectorBase

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run connector migrations through services.connectors.store.upgrade")

context.configure(
    connection=connection,
    target_metadata=ConnectorBase.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
