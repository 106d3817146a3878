"""Alembic environment of the agreement service; run only through
services.agreements.migrate.HISTORY, which passes one tenant's connection."""

from services.agreements.migrate import HISTORY
from tenants.migrations import run_migrations

run_migrations(HISTORY)
