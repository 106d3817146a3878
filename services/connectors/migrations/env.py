"""Alembic environment of a connector's own tables; run only through
services.connectors.store.HISTORY."""

from services.connectors.store import HISTORY
from tenants.migrations import run_migrations

run_migrations(HISTORY)
