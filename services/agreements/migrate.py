"""The agreement service's migration history (its tables in each tenant database)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tenants.migrations import MigrationHistory

from . import models  # noqa: F401  (registers the tables on Base.metadata)
from .db import Base

HISTORY = MigrationHistory(
    "agreements", Path(__file__).resolve().parent / "migrations", "alembic_version", Base.metadata
)


def upgrade(engine: Engine, revision: str = "head") -> None:
    HISTORY.upgrade_engine(engine, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    HISTORY.downgrade_engine(engine, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return HISTORY.current_revision(connection)
