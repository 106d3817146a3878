"""Issue 19 in Chromium (items 1, 2, 3, 6 and 8): German messages that name fields by their
labels, the client edit page with country and language lists and the duplicate warning,
cases by responsibility with hand-over and a deactivation that asks and can be undone, name
search as people type, pages at 390 px and 1280x800 without sideways scrolling, error pages,
success messages and the referral's status on the review. Screenshots in test-artifacts/;
the new pages also go through the accessibility checks of test_accessibility."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from services.agreements.models.vocabulary import Role
from tests.fixtures.cases import OfficeCase, seed_office_case
from tests.fixtures.platform import Platform, unique
from tests.fixtures.staff import make_user

from .conftest import screenshot
from .test_accessibility import Findings, assert_accessible
from .test_counsellor_journey import log_in

pytestmark = pytest.mark.browser

TODAY = datetime.now(UTC).date()
PHONE = {"width": 390, "height": 844}
#: The page is wider than the window: the user would have to scroll sideways.
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def register(page: Any, base: str, given: str, family: str, birth: str = "1985-06-15") -> str:
    page.goto(f"{base}/t/freiburg/clients/new")
    page.get_by_label("Vorname").fill(given)
    page.get_by_label("Familienname").fill(family)
    page.get_by_label("Geburtsdatum").fill(birth)
    page.get_by_label("Einreisedatum").fill((TODAY - timedelta(days=20)).isoformat())
    page.get_by_label("Herkunftsland").select_option(label="Syrien")
    page.get_by_label("Bevorzugte Sprache").select_option(label="Arabisch")
    page.get_by_role("button", name="Anlegen").click()
    expect(page.get_by_role("status")).to_have_text("Die Person wurde angelegt.")
    return str(page.url.split("/clients/")[1].split("?")[0])


@pytest.fixture(scope="module")
def case(sqlite_platform: Platform) -> OfficeCase:
    return seed_office_case(sqlite_platform.api("freiburg"))


def test_messages_name_fields_and_say_what_to_do(
    sqlite_platform: Platform, live_url: str, page: Any
) -> None:
    found = Findings({}, [], [])
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"), "/clients/new")
    page.get_by_label("Vorname").fill("Olena")
    page.get_by_label("Geburtsdatum").fill("2090-01-01")
    page.get_by_role("button", name="Anlegen").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    said = summary.inner_text()
    for expected in ("Familienname", "Bitte füllen Sie „Familienname“ aus",
                     "„Geburtsdatum“ darf nicht in der Zukunft liegen",
                     "Bitte wählen Sie das Herkunftsland aus der Liste"):  # fmt: skip
        assert expected in said, expected
    for raw in ("family_name", "Missing data", "Not a valid", "ISO 3166"):
        assert raw not in page.locator("main").inner_text(), raw
    expect(page.get_by_label("Vorname")).to_have_value("Olena")  # what was typed is kept
    # each error is tied to its field: the message is the field's description
    expect(page.get_by_label("Familienname")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "19-1-client-errors-de")
    found.inspect(page, "new client errors (issue 19)")
    page.get_by_role("link", name="English").click()
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".error-summary")).to_contain_text("Please fill in “Family name”")
    screenshot(page, "19-1-client-errors-en")
    assert_accessible(found)


def test_client_edit_lists_and_duplicate_warning(
    sqlite_platform: Platform, live_url: str, page: Any
) -> None:
    found = Findings({}, [], [])
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"))
    family = f"Al-Khatib-{unique()}"
    register(page, live_url, "Ahmad", family)
    page.get_by_role("link", name="Angaben bearbeiten").click()
    expect(page.get_by_role("heading", name="Angaben bearbeiten")).to_be_visible()
    found.inspect(page, "client edit (issue 19)")
    page.get_by_label("Herkunftsland").select_option(label="Libanon")
    page.get_by_label("Zweite Sprache").select_option(label="Französisch")
    screenshot(page, "19-2-client-edit")
    page.get_by_role("button", name="Änderungen speichern").click()
    expect(page.get_by_role("status")).to_have_text("Die Änderungen wurden gespeichert.")
    facts = page.locator("dl.facts").inner_text()
    assert "Libanon" in facts and "Arabisch, Französisch" in facts
    screenshot(page, "19-8-client-saved")

    page.goto(f"{live_url}/t/freiburg/clients/new")
    page.get_by_label("Vorname").fill("ahmad")
    page.get_by_label("Familienname").fill(family.upper())
    page.get_by_label("Geburtsdatum").fill("1985-06-15")
    page.get_by_label("Einreisedatum").fill(TODAY.isoformat())
    page.get_by_label("Herkunftsland").select_option("SY")
    page.get_by_label("Bevorzugte Sprache").select_option("ar")
    page.get_by_role("button", name="Anlegen").click()
    warning = page.locator(".warning-box")
    expect(warning).to_contain_text("Diese Person ist vielleicht schon angelegt")
    expect(warning.get_by_role("link", name=f"Ahmad {family}")).to_be_visible()
    screenshot(page, "19-2-duplicate-warning")
    found.inspect(page, "duplicate warning (issue 19)")
    page.get_by_label("Es ist eine andere Person: trotzdem anlegen").check()
    page.get_by_role("button", name="Anlegen").click()
    expect(page.get_by_role("status")).to_have_text("Die Person wurde angelegt.")
    assert_accessible(found)


def test_cases_belong_to_someone(sqlite_platform: Platform, live_url: str, browser: Any) -> None:
    found = Findings({}, [], [])
    counsellor, substitute = (
        make_user(sqlite_platform, "freiburg"),
        make_user(sqlite_platform, "freiburg"),
    )
    lead = make_user(sqlite_platform, "freiburg", Role.OFFICE_LEAD)
    admin = make_user(sqlite_platform, "freiburg", Role.TENANT_ADMIN)
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
                for _ in range(3)]  # fmt: skip
    try:
        first, second, third = (c.new_page() for c in contexts)
        log_in(first, live_url, counsellor)
        family = f"Haidari-{unique()}"
        client_id = register(first, live_url, "Zahra", family)
        first.goto(f"{live_url}/t/freiburg/")
        expect(first.locator("section[aria-labelledby=my-cases]")).to_contain_text(family)
        screenshot(first, "19-3-my-cases")

        log_in(second, live_url, substitute)
        office = second.locator("section[aria-labelledby=office-cases]")
        expect(office).to_contain_text(family)  # the substitute finds the office's cases
        expect(second.locator("section[aria-labelledby=my-cases]")).not_to_contain_text(family)
        found.inspect(second, "dashboard with the office's cases (issue 19)")

        log_in(third, live_url, lead, f"/clients/{client_id}")
        third.get_by_label("Fall übergeben an").select_option(label=f"Test {substitute.username}")
        third.get_by_role("button", name="Übergeben").click()
        expect(third.get_by_role("status")).to_have_text("Der Fall wurde übergeben.")
        expect(third.locator("dl.facts")).to_contain_text(f"Test {substitute.username}")
        screenshot(third, "19-3-handed-over")
        found.inspect(third, "client page of an office lead (issue 19)")
        second.reload()
        expect(second.locator("section[aria-labelledby=my-cases]")).to_contain_text(family)

        third.get_by_role("button", name="Abmelden").click()
        log_in(third, live_url, admin, "/admin/users")
        third.get_by_role("link", name=f"Test {substitute.username} deaktivieren").click()
        expect(third.get_by_role("heading", level=1)).to_contain_text("deaktivieren?")
        expect(third.locator(".warning-box")).to_contain_text(family)
        screenshot(third, "19-3-deactivate-confirm")
        found.inspect(third, "deactivation question (issue 19)")
        third.get_by_role("button", name="Deaktivieren").click()
        expect(third.get_by_role("status")).to_have_text("Das Benutzerkonto wurde deaktiviert.")
        third.get_by_role("button", name=f"Test {substitute.username} wieder aktivieren").click()
        expect(third.get_by_role("status")).to_have_text(
            "Das Benutzerkonto wurde wieder aktiviert."
        )
        screenshot(third, "19-3-reactivated")
    finally:
        for context in contexts:
            context.close()
    assert_accessible(found)


def test_search_as_people_type(sqlite_platform: Platform, live_url: str, page: Any) -> None:
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"))
    tag = unique()
    register(page, live_url, f"Hélène{tag}", "Al-Khatib")
    for query in (f"Al-Khatib helene{tag}", f"HELENE{tag} al-khatib", f"helene{tag} Al-Katib"):
        page.goto(f"{live_url}/t/freiburg/clients")
        page.get_by_label("Suche nach Name").fill(query)
        page.get_by_label("Suche nach Name").press("Enter")
        expect(page.get_by_role("link", name=f"Al-Khatib, Hélène{tag}")).to_be_visible()
    screenshot(page, "19-6-search-typo")


def test_pages_fit_a_phone_and_a_laptop(
    sqlite_platform: Platform, live_url: str, browser: Any, case: OfficeCase
) -> None:
    found = Findings({}, [], [])
    client, agreement = f"/clients/{case.client_id}", f"/agreements/{case.agreement_id}"
    pages = {
        "dashboard": "/", "client list": f"/clients?q={case.family_name}",
        "client page": client, "client edit": f"{client}/edit", "new client": "/clients/new",
        "consent form": f"{client}/consents/new", "agreement": agreement,
        "review": f"{agreement}/review", "close": f"{agreement}/close",
        "agreement editor": f"{client}/agreements/new", "not found": "/no-such-page",
    }  # fmt: skip
    admin_pages = {"users": "/admin/users", "offices": "/admin/offices", "figures": "/figures"}
    user = make_user(sqlite_platform, "freiburg")
    admin = make_user(sqlite_platform, "freiburg", Role.TENANT_ADMIN)
    for size, viewport, who, shown in (
        ("390", PHONE, user, pages), ("1280", {"width": 1280, "height": 800}, user, pages),
        ("390", PHONE, admin, admin_pages),
    ):  # fmt: skip
        context = browser.new_context(viewport=viewport, locale="de-DE")
        try:
            page = context.new_page()
            log_in(page, live_url, who)
            for name, path in shown.items():
                page.goto(f"{live_url}/t/freiburg{path}")
                overflow = page.evaluate(SIDEWAYS)
                assert overflow <= 0, f"{name} at {size} px scrolls sideways by {overflow} px"
                if size == "390":
                    screenshot(page, f"19-6-{size}-{name.replace(' ', '-')}")
                    found.inspect(page, f"{name} at 390 px (issue 19)")
        finally:
            context.close()
    assert_accessible(found)


def test_error_pages_in_the_portal(sqlite_platform: Platform, live_url: str, page: Any) -> None:
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"))
    response = page.goto(f"{live_url}/t/freiburg/no-such-page")
    assert response.status == 404 and "text/html" in response.headers["content-type"]
    expect(page.get_by_role("heading", name="Seite nicht gefunden")).to_be_visible()
    screenshot(page, "19-6-not-found")
    response = page.goto(f"{live_url}/t/freiburg/admin/users")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Keine Berechtigung")).to_be_visible()
    screenshot(page, "19-6-forbidden")
    response = page.goto(f"{live_url}/t/freiburg/api/v1/{uuid.uuid4()}")
    assert response.status in (401, 404) and "json" in response.headers["content-type"]


def test_success_messages_and_referral_status_on_the_step(
    sqlite_platform: Platform, live_url: str, page: Any, case: OfficeCase
) -> None:
    found = Findings({}, [], [])
    log_in(page, live_url, make_user(sqlite_platform, "freiburg"), f"/clients/{case.client_id}")
    page.get_by_role("link", name="Ausgangslage erfassen").click()
    page.locator("#language-level").fill("A2")
    page.get_by_role("button", name="Erfassung speichern").click()
    expect(page.get_by_role("status")).to_have_text("Die Ausgangslage wurde gespeichert.")
    screenshot(page, "19-8-assessment-saved")
    page.goto(f"{live_url}/t/freiburg/agreements/{case.agreement_id}/review")
    expect(page.locator(".step-referrals").first).to_contain_text("Jobcenter")
    expect(page.locator(".step-referrals").first).to_contain_text("Angefordert")
    screenshot(page, "19-8-review-referral-status")
    found.inspect(page, "review with referral status (issue 19)")
    assert_accessible(found)
