from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey
from .vocabulary import ReferralStatus


class Referral(UUIDPrimaryKey, Timestamps, Base):
    """A step handed to a partner agency; its status follows the agency's answers."""

    __tablename__ = "referrals"

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), index=True)
    step_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("steps.id"))
    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consents.id"))
    recipient_kind: Mapped[str] = mapped_column(String(30))
    purpose: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.REQUESTED, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    #: First moments in the history, kept with each new entry for the figures' durations:
    #: reached the agency (sent or any answer), first answer, measure started.
    reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    history: Mapped[list[ReferralEvent]] = relationship(
        order_by="ReferralEvent.sequence", cascade="all, delete-orphan", lazy="selectin"
    )


class ReferralEvent(UUIDPrimaryKey, Base):
    """One entry of a referral's status history."""

    __tablename__ = "referral_events"

    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    sequence: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[uuid.UUID | None]
    reason_code: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(Text, default="")
