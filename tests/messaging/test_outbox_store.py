"""Outbox appends and the bus migrations (SQLite, and PostgreSQL where marked)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.orm import Session

from messaging import outbox, store, wakeups
from messaging.contracts import ContractError
from messaging.store import OutboxMessage

from .factories import referral_requested


def test_upgrade_and_downgrade_use_their_own_version_table() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        store.upgrade(conn)
        store.upgrade(conn)  # idempotent
    tables = set(inspect(engine).get_table_names())
    assert {"outbox_messages", "inbox_messages", "dead_letters", store.VERSION_TABLE} <= tables
    assert "alembic_version" not in tables  # the agreement service's table is left alone
    with engine.begin() as conn:
        store.downgrade(conn)
    assert set(inspect(engine).get_table_names()) == {store.VERSION_TABLE}


@pytest.mark.postgres
def test_migrations_on_postgres(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        store.downgrade(conn)
        store.upgrade(conn)
    assert "outbox_messages" in inspect(pg_engine).get_table_names()


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_append_numbers_messages_per_referral_in_order_added(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    """The INSERT computes the sequence, so rows added in one session before any flush still
    count up per referral in the order they were added."""
    engine: Engine = request.getfixturevalue(engine_name)
    a, b = uuid.uuid4(), uuid.uuid4()
    with Session(engine) as session, session.begin():
        rows = [
            outbox.append(session, referral_requested("essen", correlation_id=corr))
            for corr in (a, a, b, a)
        ]
        session.flush()
        assert [r.sequence for r in rows] == [1, 2, 1, 3]
    with Session(engine) as session, session.begin():
        later = outbox.append(session, referral_requested("essen", correlation_id=a))
        session.flush()
        assert later.sequence == 4


def test_rolled_back_change_sends_nothing(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        outbox.append(session, referral_requested("essen"))
        session.rollback()
    with Session(sqlite_engine) as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_invalid_message_fails_the_operation_not_the_receiver(sqlite_engine: Engine) -> None:
    good = referral_requested("essen")
    bad = dataclasses.replace(good, payload={**good.payload, "purpose": "holiday"})
    with Session(sqlite_engine) as session, pytest.raises(ContractError):
        outbox.append(session, bad)


def test_a_commit_wakes_the_relay_once_and_a_rollback_not(sqlite_engine: Engine) -> None:
    """The writer's after-commit hook signals its relay in this process (no NOTIFY trigger,
    no LISTEN connection per tenant): once per transaction, never for a rollback."""
    woken: list[int] = []
    with wakeups.listening(outbox.relay_key(sqlite_engine), lambda: woken.append(1)):
        with Session(sqlite_engine) as session:
            outbox.append(session, referral_requested("essen"))
            session.flush()
            session.rollback()
        assert woken == []
        with Session(sqlite_engine) as session, session.begin():
            outbox.append(session, referral_requested("essen"))
            outbox.append(session, referral_requested("essen"))
        assert woken == [1]


@pytest.mark.postgres
def test_the_outbox_has_no_notify_trigger_any_more(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        triggers = conn.execute(
            text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'outbox_messages'::regclass"
                 " AND NOT tgisinternal")
        ).scalars().all()  # fmt: skip
    assert triggers == []
