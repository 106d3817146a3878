"""The bus's tables in each tenant's database: outbox, inbox, the dead-letter log and the
delivery attempts of redelivered messages.

They live beside the agreement service's tables so that a state change, its outgoing messages
and a received message's effect commit in one transaction. The bus keeps its own declarative
base, metadata and Alembic history (version table ``alembic_version_messaging``), so the
agreement service's migrations and these evolve independently.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenants.migrations import MigrationHistory
from tenants.schema import UTCDateTime, new_metadata, utcnow

VERSION_TABLE = "alembic_version_messaging"


class BusBase(DeclarativeBase):
    metadata = new_metadata()


class OutboxMessage(BusBase):
    """A message waiting to be published (``sent_at`` is None) or already confirmed.

    ``sequence`` numbers the messages of one correlation (referral) from 1; the unique
    constraint makes two concurrent transactions on the same referral conflict instead of
    interleaving, so the relay can keep per-referral order by publishing in sequence order.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("correlation_id", "sequence", name="uq_outbox_messages_sequence"),
        Index("ix_outbox_messages_pending", "sent_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    correlation_id: Mapped[uuid.UUID]
    sequence: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(63))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    encrypt: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxMessage(BusBase):
    """A message that took effect here; its id makes redeliveries change nothing."""

    __tablename__ = "inbox_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[uuid.UUID | None]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadLetter(BusBase):
    """Audit entry of a message sent to the dead-letter queue, with the reason."""

    __tablename__ = "dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID | None]
    consumer: Mapped[str] = mapped_column(String(100))
    type: Mapped[str | None] = mapped_column(String(100))
    reason_code: Mapped[str] = mapped_column(String(50))
    reason_text: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(BusBase):
    """How often a message was delivered to a consumer that never settled it (its handler or
    process died). Only redeliveries write here; see :mod:`messaging.delivery_attempts`."""

    __tablename__ = "delivery_attempts"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: The message id (AMQP ``message_id``), or a hash of the body when it has none.
    message_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


HISTORY = MigrationHistory(
    "bus", Path(__file__).resolve().parent / "migrations", VERSION_TABLE, BusBase.metadata
)


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the bus tables of this tenant database to ``revision`` (the caller commits)."""
    HISTORY.upgrade(connection, revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    """Undo bus migrations down to ``revision`` (default: remove the bus tables)."""
    HISTORY.downgrade(connection, revision)
