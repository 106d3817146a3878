"""The closed loop in the browser: a counsellor refers two steps to the job centre through the
portal and watches the simulated agency's answers arrive on the client's page, one referral
taken up to the end of the measure, the other refused with the agency's reason."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fixtures.platform import unique
from tests.fixtures.staff import make_user

from .conftest import ServicedPlatform, screenshot
from .test_counsellor_journey import log_in

pytestmark = pytest.mark.browser

TODAY = datetime.now(UTC).date()
#: The embedded bus polls about once a second per hop; the whole loop takes a few seconds.
ANSWER_TIMEOUT = 45.0

#: German labels of the referral statuses, in the order the job centre's answers bring them
#: after the portal's "Angefordert".
TAKEN_UP = ["Angefordert", "Eingegangen", "Angenommen", "Termin vereinbart",
            "Maßnahme begonnen", "Abgeschlossen"]  # fmt: skip
REFUSED = ["Angefordert", "Eingegangen", "Abgelehnt"]
#: The connector's delivery notice ("sent") races the agency's first answer through another
#: outbox; when it comes second it is dropped (services.agreements.incoming.handle_status).
DELIVERY_NOTICE = "Gesendet"


def create_client(page: Any, given: str, family: str) -> None:
    page.get_by_role("link", name="Neue Person").click()
    page.get_by_label("Vorname").fill(given)
    page.get_by_label("Familienname").fill(family)
    page.get_by_label("Geburtsdatum").fill("1987-09-12")
    page.get_by_label("Einreisedatum").fill((TODAY - timedelta(days=60)).isoformat())
    page.get_by_label("Herkunftsland").select_option("ER")
    page.get_by_label("Bevorzugte Sprache").select_option("ti")
    page.get_by_label("Zweite Sprache").select_option("en")
    page.get_by_role("button", name="Anlegen").click()
    expect(page.get_by_role("heading", name=f"{given} {family}")).to_be_visible()


def give_job_centre_consent(page: Any) -> None:
    """Consent for work, which the job centre takes up, and for the recognition of
    qualifications, which it does not (the employment agency does)."""
    page.get_by_role("link", name="Einwilligung erfassen").click()
    page.get_by_label("Empfänger").select_option("jobcenter")
    page.get_by_label("Arbeit", exact=True).check()
    page.get_by_label("Anerkennung von Abschlüssen").check()
    page.get_by_label("Identität").check()
    page.get_by_label("Sprachen").check()
    page.get_by_label("Berufserfahrung").check()
    page.get_by_role("button", name="Einwilligung speichern").click()


def sign_agreement_with_steps(page: Any, steps: list[str]) -> None:
    """One work goal whose steps are the institution's, signed by both sides (active)."""
    page.get_by_role("link", name="Vereinbarung entwerfen").click()
    page.locator("#goals-0-field").select_option("work")
    page.locator("#goals-0-target").fill("Beschäftigung im erlernten Beruf")
    page.locator("#goals-0-due_date").fill((TODAY + timedelta(days=180)).isoformat())
    for index, description in enumerate(steps):
        page.locator(f"#goals-0-steps-{index}-description").fill(description)
        page.locator(f"#goals-0-steps-{index}-owner_side").select_option("institution")
        page.locator(f"#goals-0-steps-{index}-due_date").fill(
            (TODAY + timedelta(days=30)).isoformat()
        )
    page.get_by_role("button", name="Entwurf speichern").click()
    page.get_by_role("button", name="Ratsuchende Person hat unterschrieben").click()
    page.get_by_role("button", name="Beratung unterschreibt").click()
    expect(page.get_by_text("Diese Fassung ist unterschrieben")).to_be_visible()


def refer_step(page: Any, index: int, purpose: str) -> None:
    """From the agreement page: refer step ``index`` to the job centre for ``purpose``."""
    row = page.locator("section.goal").first.locator("tbody tr").nth(index)
    row.get_by_role("link", name="Diesen Schritt weiterleiten").click()
    page.get_by_label("Partnerstelle").select_option("jobcenter")
    page.get_by_label("Zweck").select_option(purpose)
    page.get_by_label("Auf Grundlage der Einwilligung").select_option(index=1)
    page.get_by_role("button", name="Weiterleitung senden").click()
    page.wait_for_load_state()


def referral_history(page: Any, purpose: str) -> tuple[list[str], list[str]]:
    """Status labels and notes of the history table of the referral for ``purpose``."""
    event = page.locator("li.event-referral").filter(has_text=f"Zweck: {purpose}")
    rows = event.locator("table.history tbody tr")
    statuses = [text.strip() for text in rows.locator("td:nth-child(1)").all_inner_texts()]
    notes = [text.strip() for text in rows.locator("td:nth-child(3)").all_inner_texts()]
    return statuses, notes


def agency_answers(statuses: list[str]) -> list[str]:
    """The history without the delivery notice, which may or may not be there."""
    if DELIVERY_NOTICE in statuses:
        assert statuses.index(DELIVERY_NOTICE) == 1, statuses  # right after "Angefordert"
    return [status for status in statuses if status != DELIVERY_NOTICE]


def watch_until(page: Any, done: Any, timeout: float = ANSWER_TIMEOUT) -> list[Any]:
    """Reload the page, as a counsellor would, until ``done()`` holds; returns what each
    look saw (``done``'s result), so a failure shows how far the answers had come."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        look = done()
        if not seen or look != seen[-1]:
            seen.append(look)
        if look is True or time.monotonic() > deadline:
            return seen
        page.wait_for_timeout(500)
        page.reload()


def test_job_centre_answers_arrive_in_the_portal(
    serviced_platform: ServicedPlatform, page: Any
) -> None:
    base = serviced_platform.url
    log_in(page, base, make_user(serviced_platform.platform, "freiburg"))
    family = f"Tesfaye-{unique()}"
    create_client(page, "Selam", family)
    client_url = page.url
    give_job_centre_consent(page)
    sign_agreement_with_steps(
        page, ["Vermittlungscoaching beim Jobcenter", "Anerkennung des Pflegediploms klären"]
    )
    refer_step(page, 0, "work")
    refer_step(page, 1, "recognition")
    page.goto(client_url)
    assert referral_history(page, "Arbeit")[0][0] == "Angefordert"
    screenshot(page, "21-referrals-requested")

    def answered() -> bool | tuple[list[str], list[str]]:
        work, recognition = (
            referral_history(page, "Arbeit"),
            referral_history(page, "Anerkennung von Abschlüssen"),
        )
        arrived = agency_answers(work[0]) == TAKEN_UP and agency_answers(recognition[0]) == REFUSED
        return arrived or (work[0], recognition[0])

    seen = watch_until(page, answered)
    assert seen[-1] is True, f"the job centre's answers did not all arrive: {seen}"
    screenshot(page, "22-referral-answers-arrived")

    work_event = page.locator("li.event-referral").filter(has_text="Zweck: Arbeit")
    assert work_event.locator("h3 .badge").inner_text() == "Abgeschlossen"
    refused = page.locator("li.event-referral").filter(has_text="Zweck: Anerkennung")
    assert refused.locator("h3 .badge").inner_text() == "Abgelehnt"
    _, notes = referral_history(page, "Anerkennung von Abschlüssen")
    assert "not_responsible" in notes[-1]
    assert "jobcenter ist für 'recognition' nicht zuständig" in notes[-1]
    statuses, notes = referral_history(page, "Arbeit")
    assert "jobcenter, Erdgeschoss, Raum 12" in notes[statuses.index("Termin vereinbart")]
    assert "Vermittlungscoaching" in notes[statuses.index("Maßnahme begonnen")]
    # What reached the agency: both referrals, with exactly the consented data.
    received = serviced_platform.services["freiburg"].agencies["jobcenter"].received
    assert sorted(envelope["payload"]["purpose"] for envelope in received) == [
        "recognition",
        "work",
    ]
    for envelope in received:
        assert set(envelope["payload"]["client"]) == {"identity", "languages", "work_history"}
        assert envelope["payload"]["client"]["identity"]["family_name"] == family
    # Closed referrals can no longer be withdrawn.
    assert page.get_by_role("button", name="Weiterleitung zurückziehen").count() == 0

    page.get_by_role("link", name="Vereinbarung öffnen").click()
    steps = page.locator("table.list tbody")
    assert "Abgeschlossen" in steps.locator("tr").nth(0).inner_text()
    assert "Abgelehnt" in steps.locator("tr").nth(1).inner_text()
