"""Which part of a tenant's work the figures cover: a period (whole days, UTC) and an office."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class FigureFilter:
    """``period_from`` and ``period_to`` are inclusive days; None leaves that end open.

    ``today`` is the day the snapshots (reviews due and overdue) are taken on and the end of
    an open period (the caseload is counted at the end of the period).
    """

    today: date
    period_from: date | None = None
    period_to: date | None = None
    office_id: uuid.UUID | None = None

    @property
    def start(self) -> datetime | None:
        if self.period_from is None:
            return None
        return datetime.combine(self.period_from, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime | None:
        """Exclusive: the start of the day after ``period_to``."""
        if self.period_to is None:
            return None
        return datetime.combine(self.period_to + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def snapshot_at(self) -> datetime:
        """The moment the caseload is counted: the period's end, at the latest today's end."""
        end_of_today = datetime.combine(self.today + timedelta(days=1), time(0), tzinfo=UTC)
        return min(self.end, end_of_today) if self.end is not None else end_of_today
