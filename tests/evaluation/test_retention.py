"""Retention on PostgreSQL and SQLite: a run removes the personal data of exactly the cases
closed longer ago than the rule says, nothing else; every figure stays the same; the log has
no personal data; a dry run and a second run change nothing; and the CLI runs it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from deploy.cli import main
from deploy.retention_timer import RetentionTimer, run_retention
from services.agreements.db import Base
from services.agreements.models import (
    Agreement,
    Assessment,
    Client,
    Goal,
    RetentionRun,
    Review,
    Step,
)
from services.agreements.models.vocabulary import Role
from tenants.registry import RetentionEntry
from tests.fixtures.cases import caller
from tests.fixtures.factories import assessment_body
from tests.fixtures.figures import TENANT, FigureCases
from tests.fixtures.platform import Platform

AS_OF = date(2026, 11, 29)


def snapshot(platform: Platform) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (to compare before and after)."""
    with platform.session(TENANT) as session:
        return {
            table.name: sorted(map(tuple, session.execute(select(table)).all()), key=str)
            for table in Base.metadata.sorted_tables
        }


def all_figures(platform: Platform) -> Any:
    return caller(platform, TENANT, Role.TENANT_ADMIN).api.ok("GET", "figures")["tables"]


def close_on(platform: Platform, agreement_id: str, when: datetime) -> None:
    with platform.session(TENANT) as session, session.begin():
        session.execute(update(Agreement).where(Agreement.id == uuid.UUID(agreement_id))
                        .values(closed_at=when))  # fmt: skip


def run(platform: Platform, rule: RetentionEntry, dry_run: bool = False) -> int:
    tenant = platform.tenant(TENANT)
    tenant = type(tenant)(**{**tenant.__dict__, "retention": rule})
    return run_retention(platform.settings, tenant, as_of=AS_OF, actor="operator:test",
                         dry_run=dry_run).cases  # fmt: skip


def test_a_run_removes_exactly_what_is_due(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    platform, cases = figure_platform
    c1, c2 = cases.clients["c1"], cases.clients["c2"]
    caller_a = cases.a.api
    caller_a.ok("POST", f"clients/{c1}/assessments", assessment_body(), 201)
    caller_a.ok("POST", f"clients/{c2}/assessments", assessment_body(), 201)
    # c1 closed 3 years and a day before AS_OF: due; c2 closed 3 years minus a day ago: not
    close_on(platform, cases.agreements["c1"], datetime(2023, 11, 28, 12, tzinfo=UTC))
    close_on(platform, cases.agreements["c2"], datetime(2023, 11, 29, 12, tzinfo=UTC))
    figures_before = all_figures(platform)
    before = snapshot(platform)

    assert run(platform, RetentionEntry(3, "anonymise"), dry_run=True) == 1
    assert snapshot(platform) == before, "a dry run changes nothing"

    assert run(platform, RetentionEntry(3, "anonymise")) == 1
    after = snapshot(platform)
    assert all_figures(platform) == figures_before, "every figure stays the same"

    with platform.session(TENANT) as session:
        gone = session.get(Client, uuid.UUID(c1))
        kept = session.get(Client, uuid.UUID(c2))
        assert gone is not None and kept is not None
        assert (gone.given_name, gone.family_name, gone.languages) == ("", "", [])
        assert gone.birth_date == date(1971, 1, 1)  # anonymise keeps the year
        assert gone.personal_data_removed_at is not None
        assert kept.family_name == cases.names[1][1] and kept.personal_data_removed_at is None
        assert session.scalars(select(Assessment.client_id)).all() == [uuid.UUID(c2)]
        targets = session.scalars(
            select(Goal.target).join(Agreement).where(Agreement.client_id == uuid.UUID(c1))
        ).all()
        assert targets and set(targets) == {""}
        steps = session.scalars(
            select(Step.description).join(Goal).join(Agreement)
            .where(Agreement.client_id == uuid.UUID(c1))
        ).all()  # fmt: skip
        assert steps and set(steps) == {""}
        assert session.scalar(select(Review.obstacles).join(Agreement)
                              .where(Agreement.client_id == uuid.UUID(c1))) == ""  # fmt: skip
        c1_agreement = session.get(Agreement, uuid.UUID(cases.agreements["c1"]))
        assert c1_agreement is not None and c1_agreement.balance == ""
        assert c1_agreement.helped == "yes"  # what the figures count stays
        [log] = session.scalars(select(RetentionRun)).all()
    assert (log.action, log.years, log.cases, log.actor) == ("anonymise", 3, 1, "operator:test")
    assert log.closed_before == date(2023, 11, 29) and log.as_of == AS_OF
    # only c1's rows changed (and the log and the audit grew)
    for table in ("offices", "consents", "referrals", "steps", "goals"):
        assert len(after[table]) == len(before[table]), table
    changed = {
        name for name in before if name not in ("retention_runs", "audit_events")
        and before[name] != after[name]
    }  # fmt: skip
    assert changed <= {"clients", "assessments", "agreements", "goals", "steps", "reviews",
                       "review_step_results", "referrals", "referral_events"}  # fmt: skip
    personal = [str(v) for row in after["clients"] for v in row]
    assert cases.names[0][0] not in personal and cases.names[0][1] not in personal
    assert cases.names[1][1] in personal

    assert run(platform, RetentionEntry(3, "anonymise")) == 0, "nothing twice"
    # the delete rule on c2, a year later: placeholders, no birth year
    assert run(platform, RetentionEntry(2, "delete")) == 1
    with platform.session(TENANT) as session:
        deleted = session.get(Client, uuid.UUID(c2))
        assert deleted is not None
        assert (deleted.birth_date, deleted.country_of_origin) == (date(1900, 1, 1), "XX")
        assert len(session.scalars(select(RetentionRun)).all()) == 2
    assert all_figures(platform) == figures_before


def test_open_cases_are_never_due(figure_platform: tuple[Platform, FigureCases]) -> None:
    platform, cases = figure_platform
    before = snapshot(platform)
    # c3 (draft), c4 and c5 (active) are open however long ago they started
    with platform.session(TENANT) as session:
        open_clients = {cases.clients[k] for k in ("c3", "c4", "c5")}
        assert all(
            session.get(Client, uuid.UUID(c)).personal_data_removed_at is None  # type: ignore[union-attr]
            for c in open_clients
        )
    run(platform, RetentionEntry(1, "delete"))
    after = snapshot(platform)
    with platform.session(TENANT) as session:
        for client_id in open_clients:
            client = session.get(Client, uuid.UUID(client_id))
            assert (
                client is not None
                and client.family_name
                and client.personal_data_removed_at is None
            )
    assert [r for r in after["clients"] if r not in before["clients"]] == []


def test_the_cli_and_the_daily_timer(figure_platform: tuple[Platform, FigureCases]) -> None:
    platform, cases = figure_platform
    cases.a.api.ok("POST", f"agreements/{cases.agreements['c4']}/close",
                   {"outcome": "handed_over", "balance": "übergeben"})  # fmt: skip
    env = {"INTEGRA_HOME": str(platform.settings.home)}
    if not platform.settings.embedded:
        assert platform.settings.database_url is not None
        env["INTEGRA_DATABASE_URL"] = platform.settings.database_url.render_as_string(False)
        env["INTEGRA_DATABASE_PREFIX"] = platform.settings.database_prefix
    runner = CliRunner()
    result = runner.invoke(main, ["retention", "run", TENANT, "--dry-run", "--as-of",
                                  "2040-01-01"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[dry run]" in result.output and TENANT in result.output
    refused = runner.invoke(main, ["retention", "run"], env=env)
    assert refused.exit_code != 0 and "--all" in refused.output
    unknown = runner.invoke(main, ["retention", "run", "atlantis"], env=env)
    assert unknown.exit_code != 0

    timer = RetentionTimer(platform.settings, [platform.tenant(TENANT)],
                           clock=lambda: datetime(2040, 1, 1, tzinfo=UTC))  # fmt: skip
    results = timer.run_once()
    assert [(r.tenant, r.cases) for r in results] == [(TENANT, 1)] and timer.runs == 1
    with platform.session(TENANT) as session:
        actors = session.scalars(select(RetentionRun.actor)).all()
    assert "service:retention-daily" in actors


@pytest.mark.parametrize("body", ["[retention]\nyears = 0\n", "[retention]\naction = \"shred\"\n",
                                  "[reviews]\ninterval_months = 7\n"])  # fmt: skip
def test_a_bad_rule_is_refused_at_load(tmp_path: Any, body: str) -> None:
    from tenants.registry import RegistryError, load_tenant_file
    from tenants.settings import load_settings

    source = (load_settings({}).tenants_dir / "freiburg.toml").read_text(encoding="utf-8")
    path = tmp_path / "freiburg.toml"
    path.write_text(source + "\n" + body, encoding="utf-8")
    with pytest.raises(RegistryError, match=r"retention|reviews"):
        load_tenant_file(path)


def test_the_timer_thread_runs_daily_and_stops(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    """One thread for all tenants: it waits for the time of day, runs, and stops on request."""
    import threading
    import time as clock
    from datetime import timedelta

    platform, _cases = figure_platform
    soon = datetime.now(UTC) + timedelta(seconds=1)
    timer = RetentionTimer(platform.settings, [platform.tenant(TENANT)], at=soon.time())
    before = set(threading.enumerate())
    timer.start()
    started = set(threading.enumerate()) - before
    assert [t.name for t in started] == ["integra-retention"]
    deadline = clock.monotonic() + 30
    while timer.runs == 0 and clock.monotonic() < deadline:
        clock.sleep(0.1)
    timer.stop()
    assert timer.runs == 1
    assert not any(t.is_alive() for t in started)
