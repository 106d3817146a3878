"""Declarative base, column types and the per-request session of a tenant's app.

There is no module-level engine: each tenant's app receives its own engine from
``create_app(settings, tenant)``, so a session can only ever reach that tenant's database.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Identity, Integer
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# One timestamp type, clock and naming convention for every store of a tenant (tenants.schema);
# re-exported for the models and migrations of this service.
from tenants.schema import UTCDateTime, new_metadata, utcnow

__all__ = [
    "Base",
    "JSONType",
    "SerialPrimaryKey",
    "Timestamps",
    "UTCDateTime",
    "UUIDPrimaryKey",
    "utcnow",
]


#: JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = new_metadata()


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class SerialPrimaryKey:
    """A growing 64-bit id for append-heavy tables (INTEGER on SQLite, where only that type
    makes the id the rowid and lets it grow by itself)."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True, sort_order=-1
    )


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
