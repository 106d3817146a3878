"""SQL building blocks that differ between PostgreSQL and SQLite: the seconds between two
timestamps, and percentiles (linear interpolation between the closest ranks, exactly as
PostgreSQL's ``percentile_cont``; SQLite has no ordered-set aggregates, so there the same
definition is written with window functions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Subquery,
    case,
    cast,
    func,
    literal,
    select,
    text,
)
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


def percentiles_of(
    session: Session, values: Subquery, columns: Sequence[str], fractions: Sequence[float]
) -> dict[str, tuple[int, list[float | None]]]:
    """:func:`percentiles` of several columns of one subquery; on PostgreSQL in one
    statement (one pass), elsewhere one statement per column."""
    if session.get_bind().dialect.name != "postgresql":
        return {column: percentiles(session, values, column, fractions) for column in columns}
    aggregates: list[Any] = []
    for column in columns:
        x = values.c[column]
        aggregates.append(func.count(x))
        aggregates.extend(func.percentile_cont(p).within_group(x.asc()) for p in fractions)
    row = session.execute(select(*aggregates).select_from(values)).one()
    found: dict[str, tuple[int, list[float | None]]] = {}
    width = 1 + len(fractions)
    for index, column in enumerate(columns):
        part = row[index * width : (index + 1) * width]
        found[column] = (int(part[0]), [None if v is None else float(v) for v in part[1:]])
    return found


def tune_for_aggregates(session: Session) -> None:
    """PostgreSQL, for this transaction only: memory for the hash joins and sorts of a few
    large aggregates (the default 4 MB spills them to disk), and no JIT compilation (it
    costs more than it saves on statements that run once)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
