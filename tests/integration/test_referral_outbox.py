"""Referral changes leave through the transactional outbox, minimised to the consent;
agency answers come back through the same operations the API uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from messaging.contracts import dump_payload
from messaging.envelope import Envelope
from messaging.store import OutboxMessage
from services.agreements.incoming import AnswerRefused, handle_delivery_problem, handle_status
from tests.fixtures.factories import assessment_body, client_body, consent_body
from tests.fixtures.platform import Api, Platform


def _outbox(platform: Platform, correlation_id: str) -> list[OutboxMessage]:
    with platform.session("freiburg") as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.correlation_id == uuid.UUID(correlation_id))
                .order_by(OutboxMessage.sequence)
            )
        )


def _referral(api: Api, **consent: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    client = api.ok(
        "POST",
        "clients",
        client_body(health_notes="Diabetes", residence_status="tolerated"),
        status=201,
    )
    api.ok("POST", f"clients/{client['id']}/assessments", assessment_body(), status=201)
    agreed = api.ok("POST", f"clients/{client['id']}/consents", consent_body(**consent), status=201)
    referral = api.ok(
        "POST",
        "referrals",
        {
            "client_id": client["id"],
            "recipient_kind": agreed["recipient_kind"],
            "purpose": agreed["purposes"][0],
            "consent_id": agreed["id"],
        },
        status=201,
    )
    return client, agreed, referral


def test_referral_requested_carries_only_consented_categories(platform: Platform) -> None:
    api = platform.api("freiburg")
    client, consent, referral = _referral(api, data_categories=["identity", "work_history"])
    [row] = _outbox(platform, referral["id"])
    assert row.type == "referral.requested" and row.recipient == "jobcenter"
    envelope = row.envelope
    assert envelope["consent_id"] == consent["id"] and envelope["sender"] == "agreements"
    # The consent's end travels along: the connector checks it before every delivery attempt.
    assert row.version == 2
    sent_end = datetime.fromisoformat(envelope["payload"]["consent_expires_at"])
    assert sent_end == datetime.fromisoformat(consent["expires_at"])
    assert envelope["tenant"] == "freiburg"
    data = envelope["payload"]["client"]
    assert set(data) == {"identity", "work_history"}
    assert data["identity"]["family_name"] == client["family_name"]
    assert data["work_history"]["situation"] == "Verkäuferin in Aleppo"
    text = str(envelope)
    assert "Diabetes" not in text and "tolerated" not in text and "Kitaplatz" not in text


def test_health_data_leaves_only_with_explicit_consent(platform: Platform) -> None:
    api = platform.api("freiburg")
    _, _, referral = _referral(api, data_categories=["identity", "health"])
    [row] = _outbox(platform, referral["id"])
    assert row.envelope["payload"]["client"]["health"] == {"notes": "Diabetes"}


def test_a_consent_without_an_end_is_sent_as_such(platform: Platform) -> None:
    api = platform.api("freiburg")
    _, _, referral = _referral(api, expires_at=None)
    [row] = _outbox(platform, referral["id"])
    assert row.envelope["payload"]["consent_expires_at"] is None


def test_withdrawal_and_revocation_are_sent_in_order(platform: Platform) -> None:
    api = platform.api("freiburg")
    _, consent, referral = _referral(api)
    api.ok("POST", f"referrals/{referral['id']}/withdraw", {"reason": "doppelt"})
    assert [r.type for r in _outbox(platform, referral["id"])] == [
        "referral.requested",
        "referral.withdrawn",
    ]
    _, consent, second = _referral(api)
    api.ok("POST", f"consents/{consent['id']}/revoke", {})
    rows = _outbox(platform, second["id"])
    assert [r.type for r in rows] == ["referral.requested", "referral.withdrawn", "consent.revoked"]
    assert [r.sequence for r in rows] == [1, 2, 3]
    assert rows[1].envelope["payload"]["reason_code"] == "consent_revoked"
    assert rows[2].envelope["payload"]["referral_ids"] == [second["id"]]


def test_rejected_referral_leaves_nothing_in_the_outbox(platform: Platform) -> None:
    api = platform.api("freiburg")
    client = api.ok("POST", "clients", client_body(), status=201)
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), status=201)
    before = platform.count("freiburg", OutboxMessage)
    refused = api.post(
        "referrals",
        {
            "client_id": client["id"],
            "recipient_kind": "auslaenderbehoerde",
            "purpose": "work",
            "consent_id": consent["id"],
        },
    )
    assert refused.status_code == 422 and refused.json["code"] == "consent_does_not_cover"
    assert platform.count("freiburg", OutboxMessage) == before


def _answer(
    referral: dict[str, Any],
    message_type: str,
    payload: dict[str, Any],
    sender: str = "jobcenter",
    version: int = 1,
) -> Envelope:
    return Envelope(
        type=message_type,
        version=version,
        tenant="freiburg",
        sender=sender,
        recipient="agreements",
        correlation_id=uuid.UUID(referral["id"]),
        consent_id=uuid.UUID(referral["consent_id"]),
        payload=dump_payload(
            message_type, version, {"referral_id": uuid.UUID(referral["id"]), **payload}
        ),
    )


def _deliver(platform: Platform, envelope: Envelope) -> None:
    with platform.session("freiburg") as session, session.begin():
        session.info["tenant"] = "freiburg"
        handle_delivery_problem(session, envelope)


def test_a_referral_the_connector_did_not_send_says_why(platform: Platform) -> None:
    api = platform.api("freiburg")
    _, _, expired = _referral(api)
    at = datetime.now(UTC)
    reason = "consent expired at 2026-11-08T23:00:00+00:00"
    report = _answer(
        expired,
        "delivery.failed",
        {"failed_at": at, "reason_code": "consent_expired", "reason": reason},
        version=2,
    )
    _deliver(platform, report)
    shown = api.ok("GET", f"referrals/{expired['id']}")
    # The closed loop has no "not sent" status: the history says it, with the reason.
    assert shown["status"] == "requested"
    last = shown["history"][-1]
    assert last["reason_code"] == "not_sent_consent_expired"
    assert last["note"] == reason and last["message_id"] == str(report.id)
    assert datetime.fromisoformat(last["at"]) == at

    _, consent, revoked = _referral(api)
    api.ok("POST", f"consents/{consent['id']}/revoke", {})
    _deliver(
        platform,
        _answer(
            revoked,
            "delivery.failed",
            {"failed_at": at, "reason_code": "consent_revoked"},
            version=2,
        ),
    )
    shown = api.ok("GET", f"referrals/{revoked['id']}")
    assert shown["status"] == "revoked"
    assert [(h["status"], h["reason_code"]) for h in shown["history"][-2:]] == [
        ("revoked", "consent_revoked"),  # the office's revocation
        ("revoked", "not_sent_consent_revoked"),  # the connector: the agency never had it
    ]


def test_an_agency_refusal_keeps_its_reason_code_in_both_versions(platform: Platform) -> None:
    api = platform.api("freiburg")
    _, _, referral = _referral(api)
    at = datetime.now(UTC)
    _deliver(
        platform, _answer(referral, "delivery.failed", {"failed_at": at, "reason": "HTTP 400"})
    )
    _deliver(
        platform,
        _answer(
            referral,
            "delivery.failed",
            {"failed_at": at, "reason_code": "agency_refused", "reason": "HTTP 400"},
            version=2,
        ),
    )
    history = api.ok("GET", f"referrals/{referral['id']}")["history"]
    assert [(h["reason_code"], h["note"]) for h in history[-2:]] == [
        ("delivery_failed", "Zustellung gescheitert: HTTP 400"),
        ("delivery_failed", "Zustellung gescheitert: HTTP 400"),
    ]


def test_agency_answers_update_the_history_through_the_operations(platform: Platform) -> None:
    api = platform.api("freiburg")
    _, _, referral = _referral(api)
    now = datetime.now(UTC)
    answers = [
        _answer(referral, "referral.received", {"received_at": now}),
        _answer(referral, "referral.accepted", {"accepted_at": now}),
        _answer(referral, "appointment.scheduled", {"starts_at": now, "location": "Raum 3"}),
        _answer(
            referral,
            "measure.started",
            {"started_at": now, "measure": {"kind": "job_placement", "name": "Coaching"}},
        ),
        _answer(referral, "measure.completed", {"completed_at": now}),
    ]
    for envelope in answers:
        with platform.session("freiburg") as session, session.begin():
            session.info["tenant"] = "freiburg"
            handle_status(session, envelope)
    shown = api.ok("GET", f"referrals/{referral['id']}")
    assert shown["status"] == "completed"
    assert [h["status"] for h in shown["history"]] == [
        "requested",
        "received",
        "accepted",
        "scheduled",
        "started",
        "completed",
    ]
    assert [h["message_id"] for h in shown["history"][1:]] == [str(a.id) for a in answers]
    assert "Raum 3" in shown["history"][3]["note"]

    # A late or out-of-order answer (issue 12): kept in the history with its time and what
    # it said, marked late; the status never moves back, and nothing is refused for it.
    late = _answer(referral, "referral.rejected", {"rejected_at": now, "reason_code": "other"})
    earlier = _answer(referral, "referral.received", {"received_at": now})
    for envelope in (late, earlier):
        with platform.session("freiburg") as session, session.begin():
            session.info["tenant"] = "freiburg"
            handle_status(session, envelope)
    shown = api.ok("GET", f"referrals/{referral['id']}")
    assert shown["status"] == "completed"
    assert [(h["status"], h["reason_code"]) for h in shown["history"][-2:]] == [
        ("rejected", "late_answer"),
        ("received", "late_answer"),
    ]
    assert [h["message_id"] for h in shown["history"][-2:]] == [str(late.id), str(earlier.id)]


def test_answers_from_the_wrong_agency_or_for_unknown_referrals_are_refused(
    platform: Platform,
) -> None:
    api = platform.api("freiburg")
    _, _, referral = _referral(api)
    now = datetime.now(UTC)
    wrong = _answer(referral, "referral.received", {"received_at": now}, sender="arbeitsagentur")
    unknown = _answer(
        {**referral, "id": str(uuid.uuid4())}, "referral.received", {"received_at": now}
    )
    for envelope, code in ((wrong, "wrong_agency"), (unknown, "unknown_referral")):
        with platform.session("freiburg") as session, session.begin():
            with pytest.raises(AnswerRefused) as refused:
                handle_status(session, envelope)
            assert refused.value.code == code
    assert api.ok("GET", f"referrals/{referral['id']}")["status"] == "requested"
