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
