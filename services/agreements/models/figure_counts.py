from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

#: The day of a count that has none (the caseload: a snapshot of what is open now).
UNDATED = date(1900, 1, 1)


class FigureCount(Base):
    """A running count behind the figures: how many things of one kind (``metric``, with
    up to two keys) one office has on one day. Kept in the same transaction as the change
    it counts (``figures.counts``), so the figures read a few thousand rows instead of
    joining every case; ``figures.rebuild`` recomputes them from the cases."""

    __tablename__ = "figure_counts"

    metric: Mapped[str] = mapped_column(String(30), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    office_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key1: Mapped[str] = mapped_column(String(100), primary_key=True)
    key2: Mapped[str] = mapped_column(String(60), primary_key=True)
    n: Mapped[int]


class FigureValue(Base):
    """One measured duration behind the figures' percentiles (``metric``: what was measured,
    ``subject_id``: the client or referral it belongs to, ``day``: the day the figures'
    period applies to), kept by the operations with the moments it is measured between: a
    narrow table the percentiles read instead of every client's or referral's row."""

    __tablename__ = "figure_values"
    # covering: both passes of a percentile read only the index (metric, days, values)
    __table_args__ = (Index("ix_figure_values_metric_day", "metric", "day", "value"),)

    metric: Mapped[str] = mapped_column(String(30), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date]
    office_id: Mapped[uuid.UUID]
    value: Mapped[float] = mapped_column(Float())
