"""When an active agreement is next due for review.

The Jobcenter's Kooperationsplan practice: a review at the latest six months after signing or
the last review. Each tenant may shorten the interval in its registry file (``[reviews]
interval_months``); the session carries it (``context.db_session`` puts it into
``session.info``), so the operations that sign and review need no request context.
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy.orm import Session

from tenants.registry import DEFAULT_REVIEW_INTERVAL_MONTHS

#: ``session.info`` key of the tenant's review interval in months.
REVIEW_INTERVAL_KEY = "integra.review_interval_months"


def review_interval_months(session: Session) -> int:
    return int(session.info.get(REVIEW_INTERVAL_KEY, DEFAULT_REVIEW_INTERVAL_MONTHS))


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day (31 Aug + 6 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_review_due(session: Session, since: date) -> date:
    """The review after one held (or a signing) on ``since``."""
    return add_months(since, review_interval_months(session))
