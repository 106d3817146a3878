"""Alembic environment of the agreement service.

Migrations always run against one tenant's database, on a connection handed in by
``services.agreements.migrate`` (``config.attributes["connection"]``).
"""

from __future__ import annotations

from alembic import context

from services.agreements import models  # noqa: F401  (registers the tables)
from services.agreements.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `integra migrate`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
