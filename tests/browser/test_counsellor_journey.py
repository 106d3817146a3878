"""A counsellor's day in a real browser: login, a new case from registration to signed
agreement, referral, review, the bilingual PDF, logout; and what must stay out of reach."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from services.agreements.models.vocabulary import Role
from tests.fixtures.platform import Platform, unique
from tests.fixtures.staff import StaffUser, make_user

from .conftest import ARTIFACTS, need_tool, screenshot

pytestmark = pytest.mark.browser

TODAY = datetime.now(UTC).date()


def log_in(page: Any, base: str, user: StaffUser, path: str = "/") -> None:
    page.goto(f"{base}/t/{user.slug}{path}")
    page.get_by_label("Benutzername").fill(user.username)
    page.get_by_label("Passwort").fill(user.password)
    page.get_by_label("Passwort").press("Enter")  # keyboard, as many counsellors do
    page.wait_for_load_state()


def test_counsellor_day(sqlite_platform: Platform, live_url: str, page: Any) -> None:
    pdftotext = need_tool("pdftotext")
    user = make_user(sqlite_platform, "freiburg")
    log_in(page, live_url, user)
    expect(page.get_by_role("heading", name="Übersicht")).to_be_visible()
    screenshot(page, "01-dashboard")

    family = f"Haddad-{unique()}"
    page.get_by_role("link", name="Neue Person").click()
    page.get_by_label("Vorname").fill("Amina")
    page.get_by_label("Familienname").fill(family)
    page.get_by_label("Geburtsdatum").fill("1990-04-01")
    page.get_by_label("Einreisedatum").fill((TODAY - timedelta(days=90)).isoformat())
    page.get_by_label("Herkunftsland").select_option("SY")
    page.get_by_label("Bevorzugte Sprache").select_option("ar")
    page.get_by_label("Zweite Sprache").select_option("en")
    page.get_by_label("Aufenthaltsstatus").select_option("recognised_refugee")
    screenshot(page, "02-client-new")
    page.get_by_role("button", name="Anlegen").click()
    expect(page.get_by_role("heading", name=f"Amina {family}")).to_be_visible()

    page.get_by_role("link", name="Einwilligung erfassen").click()
    page.get_by_label("Empfänger").select_option("jobcenter")
    page.get_by_label("Arbeit", exact=True).check()
    page.get_by_label("Sprachkurs").check()
    page.get_by_label("Identität").check()
    page.get_by_label("Sprachen").check()
    page.get_by_role("button", name="Einwilligung speichern").click()

    page.get_by_role("link", name="Ausgangslage erfassen").click()
    page.locator("#language-level").fill("A1")
    page.locator("#language-needs").fill("Integrationskurs, Kinderbetreuung")
    page.locator("#work-situation").fill("Berufserfahrung im Einzelhandel")
    page.get_by_role("button", name="Erfassung speichern").click()

    page.get_by_role("link", name="Vereinbarung entwerfen").click()
    goal_due = (TODAY + timedelta(days=240)).isoformat()
    step_due = (TODAY + timedelta(days=30)).isoformat()
    page.locator("#goals-0-field").select_option("language")
    page.locator("#goals-0-target").fill("Deutsch B1 im Integrationskurs erreichen")
    page.locator("#goals-0-due_date").fill(goal_due)
    for index, (text, side) in enumerate(
        [("Anmeldung zum Integrationskurs", "client"),
         ("Kursträger mit Kinderbetreuung suchen", "institution")]
    ):  # fmt: skip
        page.locator(f"#goals-0-steps-{index}-description").fill(text)
        page.locator(f"#goals-0-steps-{index}-owner_side").select_option(side)
        page.locator(f"#goals-0-steps-{index}-due_date").fill(step_due)
    page.locator("#goals-1-field").select_option("work")
    page.locator("#goals-1-target").fill("Beratung zur Arbeitsaufnahme beim Jobcenter")
    page.locator("#goals-1-due_date").fill(goal_due)
    page.locator("#goals-1-steps-0-description").fill("Termin beim Jobcenter vereinbaren")
    page.locator("#goals-1-steps-0-owner_side").select_option("institution")
    page.locator("#goals-1-steps-0-due_date").fill(step_due)
    screenshot(page, "03-agreement-editor")
    page.get_by_role("button", name="Entwurf speichern").click()
    expect(page.get_by_role("link", name="Entwurf bearbeiten")).to_be_visible()

    page.get_by_role("button", name="Ratsuchende Person hat unterschrieben").click()
    page.get_by_role("button", name="Beratung unterschreibt").click()
    expect(page.get_by_text("Diese Fassung ist unterschrieben")).to_be_visible()
    assert page.get_by_role("link", name="Entwurf bearbeiten").count() == 0  # read-only now
    screenshot(page, "04-agreement-signed")

    page.get_by_role("link", name="Diesen Schritt weiterleiten").last.click()
    page.get_by_label("Partnerstelle").select_option("jobcenter")
    page.get_by_label("Zweck").select_option("work")
    page.get_by_label("Auf Grundlage der Einwilligung").select_option(index=1)
    page.get_by_role("button", name="Weiterleitung senden").click()
    expect(page.get_by_text("Angefordert").first).to_be_visible()

    page.get_by_role("link", name="Überprüfung erfassen").click()
    selects = page.locator("select[id^=result-]")
    assert selects.count() == 3
    for index in range(3):
        selects.nth(index).select_option("partly" if index else "done")
    page.get_by_label("Hindernisse").fill("Kinderbetreuung erst nach Wartezeit")
    page.get_by_role("button", name="Überprüfung speichern").click()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF herunterladen").click()
    ARTIFACTS.mkdir(exist_ok=True)
    pdf_path = ARTIFACTS / "agreement-de-ar.pdf"
    download_info.value.save_as(str(pdf_path))
    text = subprocess.run(
        [pdftotext, str(pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())  # table cells wrap; compare words, not lines
    for expected in ("Integrationsvereinbarung", "اتفاقية", "Deutsch B1 im Integrationskurs",
                     "Termin beim Jobcenter vereinbaren", "Unterschrift der ratsuchenden Person",
                     TODAY.strftime("%d.%m.%Y"), family):  # fmt: skip
        assert expected in text, expected

    page.get_by_role("link", name="Ratsuchende").click()
    page.get_by_label("Suche nach Name").fill(family)
    page.get_by_label("Suche nach Name").press("Enter")
    screenshot(page, "06-client-list")
    page.get_by_role("link", name=f"{family}, Amina").click()
    timeline = page.locator("ol.timeline")
    for expected in ("Weiterleitung an Jobcenter", "Statusverlauf", "Überprüfung der Fassung 1",
                     "Einwilligung für Jobcenter", "Erfassung"):  # fmt: skip
        assert expected in timeline.inner_text(), expected
    screenshot(page, "05-client-timeline")

    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_role("heading", name="Sie sind abgemeldet.")).to_be_visible()
    page.go_back()
    page.reload()
    expect(page.get_by_label("Benutzername")).to_be_visible()  # the session is gone


def test_no_reach_into_another_office_or_tenant(
    sqlite_platform: Platform, live_url: str, page: Any, browser: Any
) -> None:
    owner = make_user(sqlite_platform, "freiburg")
    log_in(page, live_url, owner, "/clients/new")
    family = f"Rahimi-{unique()}"
    page.get_by_label("Vorname").fill("Farid")
    page.get_by_label("Familienname").fill(family)
    page.get_by_label("Geburtsdatum").fill("1988-02-01")
    page.get_by_label("Einreisedatum").fill((TODAY - timedelta(days=30)).isoformat())
    page.get_by_label("Herkunftsland").select_option("AF")
    page.get_by_label("Bevorzugte Sprache").select_option("fa")
    page.get_by_role("button", name="Anlegen").click()
    client_path = page.url.split(live_url)[1].split("?")[0]

    other_office = sqlite_platform.tenant("freiburg").offices[1].key
    colleague = make_user(sqlite_platform, "freiburg", Role.COUNSELLOR, other_office)
    colleague_context = browser.new_context(viewport={"width": 1280, "height": 800})
    essen_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        second = colleague_context.new_page()
        log_in(second, live_url, colleague, client_path.removeprefix("/t/freiburg"))
        expect(second.get_by_role("heading", name="Nicht möglich")).to_be_visible()
        assert family not in second.content()
        screenshot(second, "07-other-office-refused")
        second.goto(f"{live_url}/t/freiburg/clients?q={family}")
        assert family not in second.locator("main").inner_text()

        essen = make_user(sqlite_platform, "essen")
        third = essen_context.new_page()
        log_in(third, live_url, essen, client_path.removeprefix("/t/freiburg"))
        assert third.url.startswith(f"{live_url}/t/essen/")
        assert family not in third.content()
        third.goto(live_url + client_path)  # Freiburg's page with only an Essen session
        expect(third.get_by_label("Benutzername")).to_be_visible()  # asked to log in to Freiburg
        assert family not in third.content()
    finally:
        colleague_context.close()
        essen_context.close()


def test_form_post_without_csrf_token_is_refused(
    sqlite_platform: Platform, live_url: str, page: Any
) -> None:
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"))
    response = page.request.post(
        f"{live_url}/t/freiburg/clients/new",
        form={"given_name": "Eve", "family_name": "Forged", "birth_date": "1990-01-01"},
        max_redirects=0,
    )
    assert response.status == 400
    wrong = page.request.post(
        f"{live_url}/t/freiburg/clients/new",
        form={"csrf_token": "forged", "given_name": "Eve"},
        max_redirects=0,
    )
    assert wrong.status == 400


def test_keyboard_labels_and_layout_at_1280x800(
    sqlite_platform: Platform, live_url: str, page: Any
) -> None:
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"), "/clients/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(el => el.labels.length === 0).map(el => el.name)"""
    )
    assert unlabelled == []
    for path in ("/", "/clients", "/clients/new"):
        page.goto(f"{live_url}/t/freiburg{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, path
        assert page.evaluate("document.documentElement.lang") == "de"
