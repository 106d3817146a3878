"""SQL building blocks for the figures: the seconds between two timestamps (which differ
between PostgreSQL and SQLite), percentiles by selection rather than a full sort, and the
transaction settings PostgreSQL needs for large aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Subquery,
    cast,
    func,
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
    session: Session,
    values: Subquery,
    column: str,
    fractions: Sequence[float],
    resolution: float = 0.01,
) -> tuple[int, list[float | None]]:
    """(how many values, the percentile of each fraction) over ``values.c[column]``, null
    values left out: linear interpolation between the closest ranks, exactly PostgreSQL's
    ``percentile_cont``, but without sorting every value.

    An ordered-set aggregate sorts all values in one process (1.5 s for 850,000 durations
    here). Instead: one grouped pass counts the values per narrow bucket (``resolution`` wide),
    which says in which bucket, and where in it, each rank needed lies; a second pass sorts
    only the values of those buckets. Both passes are plain aggregates (parallel on
    PostgreSQL), the same on SQLite.
    """
    x = values.c[column]
    bucket = cast(x / resolution, Integer)  # truncation is monotonic: buckets keep the order
    histogram = session.execute(
        select(bucket.label("bucket"), func.count(x))
        .where(x.is_not(None))
        .group_by(bucket)
        .order_by(bucket)
    ).all()
    n = sum(int(count) for _b, count in histogram)
    if n == 0:
        return 0, [None for _ in fractions]
    ranks: set[int] = set()
    for p in fractions:
        position = (n - 1) * p
        low = int(position)
        ranks.update({low, min(low + 1, n - 1)})
    located: dict[int, tuple[int, int]] = {}  # rank → (bucket, offset in it)
    before = 0
    for bucket_key, count in histogram:
        for rank in ranks:
            if before <= rank < before + int(count):
                located[rank] = (int(bucket_key), rank - before)
        before += int(count)
    in_buckets = (
        select(
            bucket.label("bucket"),
            x.label("x"),
            (func.row_number().over(partition_by=bucket, order_by=x) - 1).label("rn"),
        )
        .where(x.is_not(None), bucket.in_(sorted({b for b, _ in located.values()})))
        .subquery()
    )
    picked = {
        (int(b), int(rn)): float(value)
        for b, value, rn in session.execute(
            select(in_buckets.c.bucket, in_buckets.c.x, in_buckets.c.rn).where(
                in_buckets.c.rn.in_(sorted({offset for _, offset in located.values()}))
            )
        )
    }
    value_at = {rank: picked[located[rank]] for rank in ranks}
    results: list[float | None] = []
    for p in fractions:
        position = (n - 1) * p
        low = int(position)
        high = min(low + 1, n - 1)
        weight = position - low
        results.append(value_at[low] + (value_at[high] - value_at[low]) * weight)
    return n, results


def percentiles_of(
    session: Session, values: Subquery, columns: Sequence[str], fractions: Sequence[float]
) -> dict[str, tuple[int, list[float | None]]]:
    """:func:`percentiles` of several columns of one subquery."""
    return {column: percentiles(session, values, column, fractions) for column in columns}


def tune_for_aggregates(session: Session) -> None:
    """PostgreSQL, for this transaction only: memory for the hash joins and sorts of a few
    large aggregates (the default 4 MB spills them to disk), and no JIT compilation (it
    costs more than it saves on statements that run once)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
