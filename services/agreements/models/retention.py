from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, SerialPrimaryKey, UTCDateTime


class RetentionRun(SerialPrimaryKey, Base):
    """The deletion log: one row per retention run that changed something, with no personal
    data at all (the rule, how many cases, when, by whom): it must outlive the cases."""

    __tablename__ = "retention_runs"

    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The day the rule was applied for (``--as-of``; normally today).
    as_of: Mapped[date]
    action: Mapped[str] = mapped_column(String(10))
    years: Mapped[int]
    #: Cases closed before this day were due.
    closed_before: Mapped[date]
    cases: Mapped[int]
    actor: Mapped[str] = mapped_column(String(100))
