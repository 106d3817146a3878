"""``integra audit verify`` on PostgreSQL and SQLite: an intact chain passes; each kind of
tampering (an entry edited, edited with its hash recomputed, inserted, deleted, the newest
entries cut off) is found and named, and the command exits non-zero."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from deploy.cli import main
from services.agreements.operations.audit import _digest
from services.agreements.operations.audit_verify import ChainReport, verify_audit_chain
from tests.fixtures.figures import TENANT, FigureCases
from tests.fixtures.platform import Platform


def cli_env(platform: Platform) -> dict[str, str]:
    env = {"INTEGRA_HOME": str(platform.settings.home)}
    if platform.settings.database_url is not None:
        env["INTEGRA_DATABASE_URL"] = platform.settings.database_url.render_as_string(False)
        env["INTEGRA_DATABASE_PREFIX"] = platform.settings.database_prefix
    return env


@contextmanager
def tampering(platform: Platform) -> Iterator[Connection]:
    """A connection with the append-only triggers off, rolled back afterwards."""
    with platform.engine(TENANT).connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            )
        else:
            connection.execute(text("DROP TRIGGER audit_events_no_update"))
            connection.execute(text("DROP TRIGGER audit_events_no_delete"))
        try:
            yield connection
        finally:
            connection.rollback()


def ids(connection: Connection) -> list[int]:
    return [r[0] for r in connection.execute(text("SELECT id FROM audit_events ORDER BY id"))]


def edit(connection: Connection, victim: int) -> None:
    connection.execute(text("UPDATE audit_events SET actor = 'client:forger' WHERE id = :id"),
                       {"id": victim})  # fmt: skip


def edit_and_rehash(connection: Connection, victim: int) -> None:
    from services.agreements.models import AuditEvent

    edit(connection, victim)
    with Session(bind=connection) as session:
        loaded = session.get(AuditEvent, victim)
        assert loaded is not None
        rehashed = _digest(loaded)
    connection.execute(text("UPDATE audit_events SET hash = :h WHERE id = :id"),
                       {"h": rehashed, "id": victim})  # fmt: skip


def delete(connection: Connection, victim: int) -> None:
    connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": victim})


def insert_after(connection: Connection, victim: int) -> None:
    """A forged entry after ``victim``, correctly linked and hashed, ids shifted to make room
    (what someone with the database's owner rights could do)."""
    connection.execute(text("UPDATE audit_events SET id = -id WHERE id > :id"), {"id": victim})
    connection.execute(text("UPDATE audit_events SET id = -id + 1 WHERE id < 0"))
    from services.agreements.models import AuditEvent

    with Session(bind=connection) as session:
        original = session.get(AuditEvent, victim)
        assert original is not None
        forged = {c: getattr(original, c) for c in
                  ("at", "tenant", "actor_role", "office_id", "action", "object_type",
                   "object_id", "client_id", "detail")}  # fmt: skip
        forged.update(actor="client:forger", prev_hash=original.hash)
        forged["hash"] = _digest(forged)
        session.add(AuditEvent(id=victim + 1, **forged))
        session.flush()


TAMPERING: dict[str, tuple[Callable[[Connection, int], None], str, int]] = {
    # name: (what is done to entry `victim`, the kind reported, offset of the named entry)
    "edited": (edit, "edited", 0),
    "edited and rehashed": (edit_and_rehash, "edited", 0),
    "deleted": (delete, "deleted", 0),
    "inserted": (insert_after, "inserted", 1),
}


def test_an_intact_chain_passes(figure_platform: tuple[Platform, FigureCases]) -> None:
    platform, _cases = figure_platform
    with platform.session(TENANT) as session:
        report = verify_audit_chain(session)
    assert report.intact and report.entries > 10 and len(report.head) == 64
    result = CliRunner().invoke(main, ["audit", "verify", TENANT], env=cli_env(platform))
    assert result.exit_code == 0, result.output
    assert "intact" in result.output and report.head in result.output


@pytest.mark.parametrize("name", list(TAMPERING))
def test_each_kind_of_tampering_is_named(
    figure_platform: tuple[Platform, FigureCases], name: str
) -> None:
    platform, _cases = figure_platform
    change, kind, offset = TAMPERING[name]
    with tampering(platform) as connection:
        entries = ids(connection)
        victim = entries[len(entries) // 2]
        change(connection, victim)
        with Session(bind=connection) as session:
            report: ChainReport = verify_audit_chain(session)
    assert report.broken is not None, name
    assert (report.broken.kind, report.broken.entry_id) == (kind, victim + offset), report
    with platform.session(TENANT) as session:
        assert verify_audit_chain(session).intact  # rolled back


def test_the_command_exits_non_zero_on_a_break(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    platform, _cases = figure_platform
    if platform.settings.database_url is None:
        pytest.skip("putting the chain right again re-enables a trigger: PostgreSQL only")
    with platform.session(TENANT) as session:
        head = verify_audit_chain(session).head
    with platform.engine(TENANT).begin() as connection:
        connection.execute(
            text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        )
        last = ids(connection)[-1]
        victim = ids(connection)[-3]
        edit(connection, victim)
    try:
        result = CliRunner().invoke(main, ["audit", "verify", TENANT], env=cli_env(platform))
        assert result.exit_code == 1
        assert f"broken at entry {victim}: edited" in result.output
    finally:
        with platform.engine(TENANT).begin() as connection:
            connection.execute(text("UPDATE audit_events SET actor = :a WHERE id = :id"),
                               {"a": "x", "id": victim})  # fmt: skip
            connection.execute(text("DELETE FROM audit_events WHERE id >= :id"), {"id": victim})
            connection.execute(
                text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
            )
    # the newest entries removed: only a head recorded earlier shows it
    with platform.session(TENANT) as session:
        assert verify_audit_chain(session).intact
        report = verify_audit_chain(session, expect_head=head)
    assert report.broken is not None and report.broken.kind == "truncated"
    assert last >= victim
