"""The figures page in Chromium: an office lead and an evaluator reach it from the portal,
every chart is an SVG image with its title followed by the same numbers as a table with a
caption and header cells, nothing breaks the CSP (no inline script, nothing blocked), the
filter works, and the downloads come from the same page. Screenshot under test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from services.agreements.models.vocabulary import Role
from tests.fixtures.cases import caller, seed_office_case
from tests.fixtures.platform import Platform
from tests.fixtures.staff import make_user

from .conftest import screenshot
from .test_counsellor_journey import log_in

pytestmark = pytest.mark.browser


def test_the_figures_page(sqlite_platform: Platform, live_url: str, page: Any) -> None:
    api = caller(sqlite_platform, "freiburg").api  # a counsellor of the first office
    case = seed_office_case(api)
    api.ok("POST", f"agreements/{case.agreement_id}/close",
           {"outcome": "goals_reached", "balance": "gut", "helped": "yes"})  # fmt: skip
    problems: list[str] = []
    # CSP violations and script errors show as console errors; a failed load is told by its
    # response (the browser's own favicon request is not the page's)
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)  # fmt: skip

    lead = make_user(sqlite_platform, "freiburg", Role.OFFICE_LEAD)
    log_in(page, live_url, lead)
    page.get_by_role("link", name="Kennzahlen").click()
    expect(page.get_by_role("heading", level=1, name="Kennzahlen")).to_be_visible()

    sections = page.locator("section.figure:has(svg.chart)")
    assert sections.count() >= 8
    for index in range(sections.count()):
        section = sections.nth(index)
        chart = section.locator("svg.chart")
        assert chart.get_attribute("role") == "img"
        title_id = chart.get_attribute("aria-labelledby")
        assert title_id and page.locator(f"#{title_id}").count() == 1
        table = section.locator("table")
        assert table.locator("caption").inner_text().strip()
        assert table.locator("th[scope=col]").count() >= 2
    goals = page.locator("section#closing_outcomes table")
    expect(goals.get_by_role("rowheader", name="Ziele erreicht")).to_be_visible()
    assert page.locator("script").count() == 0
    screenshot(page, "figures")

    page.get_by_label("Von").fill("2020-01-01")
    page.get_by_label("Bis").fill("2020-12-31")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page.locator("section#closing_outcomes table")).to_contain_text("0")
    assert "from=2020-01-01" in page.url
    with page.expect_download() as download:
        page.get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    assert problems == [], problems

    evaluator = make_user(sqlite_platform, "freiburg", Role.EVALUATOR)
    page.context.clear_cookies()
    log_in(page, live_url, evaluator)
    expect(page.get_by_role("heading", level=1, name="Kennzahlen")).to_be_visible()
    assert page.locator("select#office").count() == 1  # all offices, or one of them
    response = page.goto(f"{live_url}/t/freiburg/clients/{case.client_id}")
    assert response is not None and response.status == 403
