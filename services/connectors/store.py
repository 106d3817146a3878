"""A connector's own state, in its own database (never the agreement service's).

What a connector knows of a referral is what the signed messages told it: enough to deliver
it, retry it, recognise the agency's answers, and stop when the referral is withdrawn or its
consent revoked or expired.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenants.migrations import MigrationHistory
from tenants.schema import UTCDateTime, new_metadata, utcnow

VERSION_TABLE = "alembic_version_connector"


class Delivery(StrEnum):
    PENDING = "pending"  # waiting for (another) attempt
    DELIVERED = "delivered"  # the agency's channel took it
    CANCELLED = "cancelled"  # withdrawn, or consent revoked or expired, before delivery
    FAILED = "failed"  # the agency refused it for good


class ConnectorBase(DeclarativeBase):
    metadata = new_metadata()


class TrackedReferral(ConnectorBase):
    """A referral this connector carries to its agency."""

    __tablename__ = "connector_referrals"

    referral_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    consent_id: Mapped[uuid.UUID] = mapped_column(index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Withdrawn, revoked, not sent (consent lapsed), rejected or finished: answers are still
    #: recognised, nothing new about it is delivered except what tells the agency to stop.
    closed: Mapped[bool] = mapped_column(default=False)
    #: When the agency's last answer about it arrived (None: none yet).
    last_heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the connector last asked the agency where it stands (status.query).
    status_queried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgencyDelivery(ConnectorBase):
    """One message for the agency, delivered in order per referral, retried until taken."""

    __tablename__ = "connector_deliveries"
    __table_args__ = (Index("ix_connector_deliveries_due", "status", "next_attempt_at"),)

    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(index=True)
    sequence: Mapped[int] = mapped_column(default=0)
    type: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=Delivery.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delay_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevokedConsent(ConnectorBase):
    """A consent revoked by the client: nothing under it is delivered any more."""

    __tablename__ = "connector_revoked_consents"

    consent_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime)


HISTORY = MigrationHistory(
    "connector", Path(__file__).resolve().parent / "migrations", VERSION_TABLE,
    ConnectorBase.metadata,
)  # fmt: skip


def upgrade(connection: Connection, revision: str = "head") -> None:
    HISTORY.upgrade(connection, revision)


def downgrade(connection: Connection, revision: str = "base") -> None:
    HISTORY.downgrade(connection, revision)
