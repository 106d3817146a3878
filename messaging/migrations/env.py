"""Alembic environment of the bus tables; run only through messaging.store.upgrade/downgrade."""

from __future__ import annotations

from alembic import context

from messaging.store import VERSION_TABLE, BusBase

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("use messaging.store.upgrade(connection); offline mode is not supported")

context.configure(
    connection=connection,
    target_metadata=BusBase.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
