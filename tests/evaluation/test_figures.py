"""The figures against cases counted by hand (tests.fixtures.figures), on PostgreSQL and
SQLite: every table, the period and office filters, the 48-hour share, the roles that may
read them, and the CSV and XLSX downloads holding the same numbers as the JSON."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from services.agreements.figures.rebuild import kept_counts, kept_values, rebuild
from services.agreements.models import FigureCount
from services.agreements.models.vocabulary import ReferralStatus, Role
from services.agreements.operations.referral_history import apply_agency_status
from tests.fixtures.cases import caller, new_client, seed_office_case, sign_both
from tests.fixtures.factories import agreement_body
from tests.fixtures.figures import OFFICE_A, OFFICE_B, TENANT, FigureCases
from tests.fixtures.platform import Platform

MARCH = "from=2026-03-01&to=2026-03-31"


def figures(platform: Platform, query: str, role: Role = Role.TENANT_ADMIN) -> dict[str, Any]:
    api = caller(platform, TENANT, role).api
    return api.ok("GET", f"figures?{query}")  # type: ignore[no-any-return]


def table(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return next(t["rows"] for t in data["tables"] if t["key"] == key)


def by(rows: list[dict[str, Any]], column: str) -> dict[str, dict[str, Any]]:
    return {row[column]: row for row in rows}


def test_every_table_matches_the_hand_count(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    platform, _cases = figure_platform
    data = figures(platform, MARCH)
    assert (data["from"], data["to"], data["office"]) == ("2026-03-01", "2026-03-31", None)

    status = by(table(data, "agreements_by_status"), "office")
    assert {k: status[OFFICE_A][k] for k in ("draft", "signed", "active", "closed", "total")} == {
        "draft": 1, "signed": 0, "active": 1, "closed": 2, "total": 4}  # fmt: skip
    assert (status[OFFICE_B]["active"], status[OFFICE_B]["total"]) == (1, 1)
    assert status["jmd-ib"]["total"] == 0

    goals = by(table(data, "goals_by_field"), "field")
    assert goals["language"] == {
        "field": "language", "agreed": 2, "review_done": 1, "review_partly": 0,
        "review_not_done": 0, "closed_reached": 1, "closed_partly": 0,
        "closed_not_reached": 0, "closed_not_assessed": 1}  # fmt: skip
    assert (goals["work"]["agreed"], goals["work"]["review_partly"]) == (2, 1)
    assert goals["work"]["closed_partly"] == 1
    assert (goals["childcare"]["agreed"], goals["recognition"]["agreed"]) == (1, 0)

    steps = by(table(data, "steps_by_side"), "side")
    assert {k: steps["client"][k] for k in ("open", "done", "partly", "total")} == {
        "open": 2, "done": 1, "partly": 0, "total": 3}  # fmt: skip
    assert {k: steps["institution"][k] for k in ("open", "partly", "total")} == {
        "open": 1, "partly": 1, "total": 2}  # fmt: skip
    assert steps["client"]["share_done"] == 33.3

    reviews = by(table(data, "reviews"), "office")
    assert {k: reviews[OFFICE_A][k] for k in ("held", "due", "overdue")} == {
        "held": 1, "due": 0, "overdue": 1}  # fmt: skip
    assert {k: reviews[OFFICE_B][k] for k in ("held", "due", "overdue")} == {
        "held": 0, "due": 1, "overdue": 0}  # fmt: skip

    funnel = by(table(data, "referral_funnel"), "agency")
    stages = ("requested", "sent", "received", "accepted", "started", "completed", "rejected")
    assert [funnel["jobcenter"][s] for s in stages] == [2, 2, 2, 1, 1, 0, 1]
    assert [funnel["arbeitsagentur"][s] for s in stages] == [1, 1, 0, 0, 0, 0, 0]
    assert funnel["auslaenderbehoerde"]["requested"] == 0
    assert table(data, "rejection_reasons") == [
        {"agency": "jobcenter", "reason_code": "not_responsible", "rejected": 1}
    ]

    durations = by(table(data, "durations"), "measure")
    signed = durations["contact_to_signed"]
    # 1, 2, 4, 10 days: the median between 2 and 4; p90 at rank 2.7 → 4 + 0.7 × 6
    assert (signed["n"], signed["median"], signed["p90"]) == (4, 3.0, 8.2)
    answer = durations["referral_to_first_answer"]
    # 10 h and 60 h; three referrals reached the agency, one answered within 48 hours
    assert (answer["n"], answer["median"], answer["p90"]) == (2, 35.0, 55.0)
    assert (answer["sent"], answer["within_48h"], answer["share_within_48h"]) == (3, 1, 33.3)
    start = durations["referral_to_measure_start"]
    assert (start["n"], start["median"], start["p90"]) == (1, 5.0, 5.0)

    caseload = by(table(data, "caseload_by_office"), "office")
    assert (caseload[OFFICE_A]["open_cases"], caseload[OFFICE_B]["open_cases"]) == (2, 1)
    per_counsellor = table(data, "caseload_by_counsellor")
    assert sorted(r["open_cases"] for r in per_counsellor) == [1, 2]

    outcomes = by(table(data, "closing_outcomes"), "outcome")
    assert (outcomes["goals_reached"]["closed"], outcomes["broke_off"]["closed"]) == (1, 1)
    assert outcomes["goals_reached"]["share"] == 50.0
    answers = by(table(data, "closing_answers"), "question")
    assert {k: answers["helped"][k] for k in ("yes", "partly", "no", "not_answered")} == {
        "yes": 1, "partly": 0, "no": 1, "not_answered": 0}  # fmt: skip
    assert answers["helped"]["share_yes"] == 50.0
    assert (answers["easier_to_keep_going"]["partly"],
            answers["easier_to_keep_going"]["not_answered"]) == (1, 1)  # fmt: skip


def test_the_office_filter(figure_platform: tuple[Platform, FigureCases]) -> None:
    platform, _cases = figure_platform
    data = figures(platform, f"{MARCH}&office={OFFICE_A}")
    assert data["office"] == OFFICE_A
    assert [r["office"] for r in table(data, "agreements_by_status")] == [OFFICE_A]
    signed = by(table(data, "durations"), "measure")["contact_to_signed"]
    # 2, 4, 10 days: p90 at rank 1.8 → 4 + 0.8 × 6
    assert (signed["n"], signed["median"], signed["p90"]) == (3, 4.0, 8.8)
    answer = by(table(data, "durations"), "measure")["referral_to_first_answer"]
    assert (answer["sent"], answer["within_48h"], answer["share_within_48h"]) == (1, 1, 100.0)
    assert by(table(data, "referral_funnel"), "agency")["arbeitsagentur"]["requested"] == 0


def test_the_period_filter(figure_platform: tuple[Platform, FigureCases]) -> None:
    platform, _cases = figure_platform
    later = figures(platform, "from=2026-03-06&to=2026-03-31")
    funnel = by(table(later, "referral_funnel"), "agency")
    assert [funnel["jobcenter"][s] for s in ("requested", "received", "rejected")] == [1, 1, 1]
    answer = by(table(later, "durations"), "measure")["referral_to_first_answer"]
    assert (answer["sent"], answer["within_48h"], answer["share_within_48h"]) == (2, 0, 0.0)
    fifth = figures(platform, "from=2026-03-05&to=2026-03-31")
    status = by(table(fifth, "agreements_by_status"), "office")
    assert (status[OFFICE_A]["total"], status[OFFICE_B]["total"]) == (0, 1)  # c5 on 5 March
    empty = figures(platform, "from=2025-01-01&to=2025-12-31")
    assert all(r["total"] == 0 for r in table(empty, "agreements_by_status"))
    assert by(table(empty, "durations"), "measure")["contact_to_signed"]["median"] is None


def test_who_may_read_the_figures(figure_platform: tuple[Platform, FigureCases]) -> None:
    platform, cases = figure_platform
    counsellor = caller(platform, TENANT, Role.COUNSELLOR, OFFICE_A).api
    response = counsellor.get(f"figures?{MARCH}")
    assert response.status_code == 403 and response.json["code"] == "role_not_allowed"

    lead = caller(platform, TENANT, Role.OFFICE_LEAD, OFFICE_B).api
    own = lead.ok("GET", f"figures?{MARCH}")
    assert own["office"] == OFFICE_B
    assert [r["office"] for r in table(own, "agreements_by_status")] == [OFFICE_B]
    assert lead.get(f"figures?{MARCH}&office={OFFICE_A}").status_code == 403

    evaluator = caller(platform, TENANT, Role.EVALUATOR).api
    assert evaluator.ok("GET", f"figures?{MARCH}")["tables"]
    for path in ("clients", f"clients/{cases.clients['c1']}",
                 f"agreements/{cases.agreements['c1']}", "referrals",
                 f"clients/{cases.clients['c1']}/export"):  # fmt: skip
        answer = evaluator.get(path)
        assert answer.status_code == 403, path
        assert answer.json["code"] == "role_not_allowed"


@pytest.mark.parametrize(
    "query, field",
    [("from=2026-03-31&to=2026-03-01", "to"), ("office=atlantis", "office"),
     ("from=März", "from"), ("format=pdf", "format")],
)  # fmt: skip
def test_bad_filters_are_refused(
    figure_platform: tuple[Platform, FigureCases], query: str, field: str
) -> None:
    platform, _cases = figure_platform
    response = caller(platform, TENANT, Role.TENANT_ADMIN).api.get(f"figures?{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.json
    assert body["message"]["de"] and body["message"]["en"]
    assert field in str(body.get("fields")), body


def test_csv_and_xlsx_hold_the_same_tables(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    platform, _cases = figure_platform
    api = caller(platform, TENANT, Role.TENANT_ADMIN).api
    data = api.ok("GET", f"figures?{MARCH}")

    response = api.get(f"figures?{MARCH}&format=csv&lang=en")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    for expected in data["tables"]:
        title = expected["title"]["en"]
        start = lines.index([title])
        header = lines[start + 1]
        assert header == [c["label"]["en"] for c in expected["columns"]]
        rows = lines[start + 2 : start + 2 + len(expected["rows"])]
        for got, want in zip(rows, expected["rows"], strict=True):
            assert got == ["" if want[c["key"]] is None else str(want[c["key"]])
                           for c in expected["columns"]]  # fmt: skip

    response = api.get(f"figures?{MARCH}&format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    for expected in data["tables"]:
        sheet = book[expected["key"][:31]]
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][0] == expected["title"]["de"]
        assert list(values[1]) == [c["label"]["de"] for c in expected["columns"]]
        for got, want in zip(values[2:], expected["rows"], strict=True):
            assert list(got) == [want[c["key"]] if want[c["key"]] is not None else None
                                 for c in expected["columns"]]  # fmt: skip


def test_the_counts_kept_by_the_operations_equal_a_rebuild(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    """Every operation that changes what the figures count keeps the running counts itself;
    after a day's work through the API they are exactly what counting the cases gives."""
    platform, _cases = figure_platform
    who = caller(platform, TENANT, Role.COUNSELLOR, "jmd-ib")
    api = who.api
    # signed, reviewed, amended (the first version superseded), the amendment closed
    first = seed_office_case(api)
    current = api.ok("GET", f"agreements/{first.agreement_id}")
    api.ok("POST", f"agreements/{first.agreement_id}/reviews",
           {"steps": [{"step_id": current["goals"][0]["steps"][0]["id"], "result": "done"}]},
           201)  # fmt: skip
    amendment = api.ok("POST", f"agreements/{first.agreement_id}/amendments",
                       {"reason": "neu"}, 201)  # fmt: skip
    sign_both(api, amendment["id"])
    api.ok("POST", f"agreements/{amendment['id']}/close",
           {"outcome": "moved_away", "balance": "verzogen", "helped": "partly",
            "goals": [{"goal_id": amendment["goals"][0]["id"],
                       "attainment": "not_reached"}]})  # fmt: skip
    # a draft discarded, a draft signed by one side, an amendment left pending
    second = new_client(api)
    draft = api.ok("POST", f"clients/{second['id']}/agreements", agreement_body(1, 1), 201)
    api.delete(f"agreements/{draft['id']}")
    draft = api.ok("POST", f"clients/{second['id']}/agreements", agreement_body(1, 2), 201)
    api.ok("POST", f"agreements/{draft['id']}/sign", {"party": "client"})
    third = seed_office_case(api)
    api.ok("POST", f"agreements/{third.agreement_id}/amendments", {"reason": "später"}, 201)
    # referrals: answered by the agency, rejected, withdrawn, revoked with the consent
    fourth = seed_office_case(api)
    with platform.session(TENANT) as session, session.begin():
        for status, reason in (
            (ReferralStatus.SENT, None),
            (ReferralStatus.RECEIVED, None),
            (ReferralStatus.ACCEPTED, None),
            (ReferralStatus.STARTED, None),
        ):
            apply_agency_status(
                session,
                uuid.UUID(fourth.referral_id),
                status,
                at=datetime.now(UTC),
                message_id=uuid.uuid4(),
                reason_code=reason,
            )
        apply_agency_status(session, uuid.UUID(third.referral_id), ReferralStatus.REJECTED,
                            at=datetime.now(UTC), message_id=uuid.uuid4(),
                            reason_code="no_capacity")  # fmt: skip
    # (closing the first case withdrew its referral already: issue 12)
    assert api.ok("GET", f"referrals/{first.referral_id}")["status"] == "withdrawn"
    withdrawn = seed_office_case(api)
    api.ok("POST", f"referrals/{withdrawn.referral_id}/withdraw", {"reason": "erledigt"})
    fifth = seed_office_case(api)
    api.ok("POST", f"consents/{fifth.consent_id}/revoke", {})

    with platform.engine(TENANT).connect() as connection:
        kept, kept_durations = kept_counts(connection), kept_values(connection)
        rebuild(connection)
        rebuilt, rebuilt_durations = kept_counts(connection), kept_values(connection)
        connection.rollback()
    assert kept == rebuilt
    # the same durations (SQLite's julianday arithmetic differs from Python's in microseconds)
    assert kept_durations.keys() == rebuilt_durations.keys()
    for key, (day, office, value) in kept_durations.items():
        assert (day, office) == rebuilt_durations[key][:2], key
        assert value == pytest.approx(rebuilt_durations[key][2], abs=1e-3), key
    assert {metric for metric, _subject in kept_durations} == {
        "contact_to_signed", "referral_to_first_answer", "referral_to_measure_start"}  # fmt: skip
    metrics = {key[0] for key in kept}
    assert {"agreement_status", "goal_agreed", "step_status", "goal_closed", "caseload",
            "review_result", "referral_stage", "referral_status",
            "referral_rejection", "closing_answer"} <= metrics  # fmt: skip


def test_the_recount_command(figure_platform: tuple[Platform, FigureCases]) -> None:
    from click.testing import CliRunner

    from deploy.cli import main

    platform, _cases = figure_platform
    with platform.engine(TENANT).begin() as connection:  # counts gone astray
        connection.execute(FigureCount.__table__.delete())
    assert figures(platform, MARCH)["tables"][0]["rows"][1]["total"] == 0
    env = {"INTEGRA_HOME": str(platform.settings.home)}
    if platform.settings.database_url is not None:
        env["INTEGRA_DATABASE_URL"] = platform.settings.database_url.render_as_string(False)
        env["INTEGRA_DATABASE_PREFIX"] = platform.settings.database_prefix
    result = CliRunner().invoke(main, ["evaluation", "recount", TENANT], env=env)
    assert result.exit_code == 0, result.output
    status = by(table(figures(platform, MARCH), "agreements_by_status"), "office")
    assert status[OFFICE_A]["total"] == 4
    refused = CliRunner().invoke(main, ["evaluation", "recount"], env=env)
    assert refused.exit_code != 0
