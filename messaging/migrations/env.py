"""Alembic environment of the bus tables; run only through messaging.store.HISTORY."""

from messaging.store import HISTORY
from tenants.migrations import run_migrations

run_migrations(HISTORY)
