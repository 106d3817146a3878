"""Percentiles by selection (``figures.sql.percentiles``) equal PostgreSQL's own
``percentile_cont`` and the textbook definition, on PostgreSQL and SQLite, for awkward data:
one value, duplicates, everything in one bucket, negative values, wide ranges."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.orm import Session

from services.agreements.figures.sql import percentiles

FRACTIONS = (0.0, 0.1, 0.5, 0.9, 1.0)


def textbook(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * p
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


DATA = {
    "one": [4.2],
    "two": [1.0, 3.0],
    "duplicates": [2.0] * 50 + [3.0] * 7 + [9.5] * 3,
    "one bucket": [1.0 + i * 1e-5 for i in range(400)],
    "negative": [-3.25, -1.0, 0.0, 0.004, 0.006, 2.0, 7.75],
    "wide": [random.Random(7).expovariate(1 / 40) for _ in range(3000)],
}


@pytest.fixture(params=["postgresql", "sqlite"])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else "sqlite://"
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", list(DATA))
def test_selection_equals_the_definition(session: Session, name: str) -> None:
    table = Table(
        f"tmp_values_{name.replace(' ', '_')}", MetaData(), Column("id", Integer, primary_key=True),
        Column("v", Float), prefixes=["TEMPORARY"],
    )  # fmt: skip
    table.create(session.connection())
    values = DATA[name]
    session.execute(insert(table), [{"v": v} for v in values] + [{"v": None}])
    n, got = percentiles(session, select(table.c.v).subquery(), "v", FRACTIONS)
    assert n == len(values)
    for p, value in zip(FRACTIONS, got, strict=True):
        assert value == pytest.approx(textbook(values, p), abs=1e-9), (name, p)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import func

        for p, value in zip(FRACTIONS, got, strict=True):
            native = session.scalar(select(func.percentile_cont(p).within_group(table.c.v)))
            assert value == pytest.approx(native, abs=1e-9)
    session.rollback()


def test_no_values(session: Session) -> None:
    table = Table("tmp_empty", MetaData(), Column("v", Float), prefixes=["TEMPORARY"])
    table.create(session.connection())
    assert percentiles(session, select(table.c.v).subquery(), "v", (0.5,)) == (0, [None])
    session.rollback()
