"""SQL building blocks that differ between PostgreSQL and SQLite: the seconds between two
timestamps, and percentiles (linear interpolation between the closest ranks, exactly as
PostgreSQL's ``percentile_cont``; SQLite has no ordered-set aggregates, so there the same
definition is written with window functions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Subquery, case, cast, func, literal, select
from sqlalchemy.orm import Session


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    # SQLite keeps timestamps as ISO text; julianday reads them (days, with a fraction)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def percentiles(
    session: Session, values: Subquery, column: str, fractions: Sequence[float]
) -> tuple[int, list[float | None]]:
    """(how many values, the percentile of each fraction) over ``values.c[column]``, in one
    statement; null values are left out."""
    x = values.c[column]
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            select(
                func.count(x),
                *(func.percentile_cont(p).within_group(x.asc()) for p in fractions),
            ).select_from(values)
        ).one()
        return int(row[0]), [None if v is None else float(v) for v in row[1:]]
    ranked = (
        select(
            x.label("x"),
            (func.row_number().over(order_by=x) - 1).label("rn"),
            func.count().over().label("n"),
        )
        .where(x.is_not(None))
        .subquery()
    )
    parts = []
    for p in fractions:
        # percentile_cont: the value at rank (n - 1) * p, interpolated between its neighbours
        position = (ranked.c.n - 1) * literal(p, Float)
        low = cast(position, Integer)
        weight = position - low
        parts.append(
            func.sum(
                case(
                    (ranked.c.rn == low, ranked.c.x * (1 - weight)),
                    (ranked.c.rn == low + 1, ranked.c.x * weight),
                    else_=0.0,
                )
            )
        )
    row = session.execute(select(func.count(ranked.c.x), *parts)).one()
    n = int(row[0])
    return n, [None if n == 0 or v is None else float(v) for v in row[1:]]
