"""A referral the connector did not send because the consent lapsed says so on the client's
page, beside its status and in its history, in German and English."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from werkzeug.test import Client

from messaging.contracts import dump_payload
from messaging.envelope import Envelope
from services.agreements.incoming import handle_delivery_problem
from tests.fixtures.factories import client_body, consent_body
from tests.fixtures.platform import Platform

from .conftest import login, make_user


def _not_sent(platform: Platform, referral: dict[str, str], reason_code: str) -> None:
    referral_id = uuid.UUID(referral["id"])
    payload = {
        "referral_id": referral_id,
        "failed_at": datetime.now(UTC),
        "reason_code": reason_code,
        "reason": "consent expired at 2026-11-08T23:00:00+00:00",
    }
    envelope = Envelope(
        type="delivery.failed",
        version=2,
        tenant="freiburg",
        sender="jobcenter",
        recipient="agreements",
        correlation_id=referral_id,
        payload=dump_payload("delivery.failed", 2, payload),
    )
    with platform.session("freiburg") as session, session.begin():
        session.info["tenant"] = "freiburg"
        handle_delivery_problem(session, envelope)


def test_the_client_page_shows_why_a_referral_was_not_sent(
    sqlite_platform: Platform, http: Client
) -> None:
    api = sqlite_platform.api("freiburg")
    person = api.ok("POST", "clients", client_body(family_name="Nichtgesendet"), status=201)
    consent = api.ok("POST", f"clients/{person['id']}/consents", consent_body(), status=201)
    referral = api.ok(
        "POST",
        "referrals",
        {
            "client_id": person["id"],
            "recipient_kind": "jobcenter",
            "purpose": "work",
            "consent_id": consent["id"],
        },
        status=201,
    )
    _not_sent(sqlite_platform, referral, "consent_expired")
    login(http, make_user(sqlite_platform, "freiburg"))
    page = f"/t/freiburg/clients/{person['id']}"

    german = http.get(page).get_data(as_text=True)
    assert german.count("Nicht übermittelt: Einwilligung abgelaufen") == 2  # badge and history
    assert "consent expired at 2026-11-08T23:00:00+00:00" in german
    assert "not_sent_consent_expired" not in german

    http.set_cookie("integra_lang", "en")
    english = http.get(page).get_data(as_text=True)
    assert english.count("Not sent: consent expired") == 2


def test_the_dashboard_lists_not_sent_referrals_apart_from_those_waiting(
    sqlite_platform: Platform, http: Client
) -> None:
    """A referral the connector will never send is not "waiting for an answer" nor a
    "delayed delivery": the dashboard lists it under its own heading, with the reason."""
    from sqlalchemy import select

    from services.agreements.models import Referral
    from services.agreements.portal import queries

    api = sqlite_platform.api("freiburg")
    ids = {}
    for name, lapsed in (("Abgelaufen", True), ("Wartend", False)):
        family = f"{name}-{uuid.uuid4().hex[:6]}"
        person = api.ok("POST", "clients", client_body(family_name=family), status=201)
        consent = api.ok("POST", f"clients/{person['id']}/consents", consent_body(), status=201)
        referral = api.ok(
            "POST",
            "referrals",
            {
                "client_id": person["id"],
                "recipient_kind": "jobcenter",
                "purpose": "work",
                "consent_id": consent["id"],
            },
            status=201,
        )
        if lapsed:
            _not_sent(sqlite_platform, referral, "consent_expired")
        ids[name] = (family, uuid.UUID(referral["id"]))

    with sqlite_platform.session("freiburg") as session:
        for name, expected in (("Abgelaufen", False), ("Wartend", True)):
            waiting = session.scalar(
                select(Referral.id).where(
                    Referral.id == ids[name][1],
                    Referral.status.in_(queries.WAITING_FOR_ANSWER),
                    ~queries._NOT_SENT,
                )
            )
            assert (waiting is not None) is expected, name

    login(http, make_user(sqlite_platform, "freiburg"))
    dashboard = http.get("/t/freiburg/").get_data(as_text=True)
    section = dashboard.split('id="not-sent"', 1)[1].split("</section>", 1)[0]
    assert "Nicht übermittelte Weiterleitungen" in dashboard
    assert ids["Abgelaufen"][0] in section
    assert "Nicht übermittelt: Einwilligung abgelaufen" in section
    assert ids["Wartend"][0] not in section
