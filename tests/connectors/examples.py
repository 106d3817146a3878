"""Example envelopes of every contract (tests/contract/golden/ holds none yet)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from messaging.contracts import load_payload, new_envelope
from messaging.envelope import Envelope
from services.connectors.channels.xoev import Authority

TENANT = "musterstadt"
OFFICE = Authority(praefix="psw", kennung="mbe-musterstadt", name="Migrationsberatung Musterstadt")
AGENCY = Authority(praefix="psw", kennung="jc-musterstadt", name="Jobcenter Musterstadt")

REFERRAL = uuid.UUID("6f1c2b9e-3d4a-4b5c-8d7e-0f1a2b3c4d5e")
CONSENT = uuid.UUID("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
AT_BERLIN = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))


def _env(
    message_type: str,
    payload: dict[str, Any],
    *,
    from_agency: bool = True,
    consent: bool = False,
    causation: bool = True,
    version: int = 1,
) -> Envelope:
    office, agency = "agreements", "jobcenter"
    return new_envelope(
        message_type,
        version,
        tenant=TENANT,
        sender=agency if from_agency else office,
        recipient=office if from_agency else agency,
        correlation_id=REFERRAL,
        consent_id=CONSENT if consent else None,
        causation_id=uuid.uuid4() if causation else None,
        payload=payload,
    )


def referral_requested() -> Envelope:
    """Every data category, free-form data of every JSON type, text XML must keep exactly."""
    return _env(
        "referral.requested",
        {
            "referral_id": REFERRAL,
            "data_categories": [
                "identity",
                "contact",
                "residence_status",
                "languages",
                "education",
                "work_history",
                "qualifications",
                "family",
                "health",
                "assessment",
                "agreement_goals",
            ],
            "client": {
                "identity": {
                    "given_name": "Amina",
                    "family_name": "Haddad-Özdemir",
                    "birth_date": date(1990, 4, 12),
                },
                "contact": {
                    "phone": "+49 30 1234567",
                    "email": "amina@example.org",
                    "address": "Hauptstraße 1\r\n12345 Musterstadt",
                },
                "residence_status": {"status": "§ 25 Abs. 2 AufenthG", "valid_until": None},
                "languages": [
                    {"language": "ar", "level": "native"},
                    {"language": "de", "level": None},
                ],
                "education": {
                    "highest": "Bachelor",
                    "years": 16,
                    "grade": 1.7,
                    "recognised": False,
                    "institution": None,
                    "subjects": ["Informatik", 3, {"nested": [True, None, -0.5]}, []],
                    "": "empty key",
                    "Schlüssel mit Leerzeichen & <Zeichen>": {"xml": "x"},
                },
                "work_history": {},
                "qualifications": {"list": []},
                "family": {"children": 2},
                "health": {"note": "  leading and trailing spaces  "},
                "assessment": {"text": "<b>not markup</b> & ]]> \t tab"},
                "agreement_goals": {"goal": "Arbeit als Softwareentwicklerin", "big": 10**30},
            },
            "purpose": "work",
            "step": {
                "description": "Beratung zur Arbeitsvermittlung",
                "due_date": date(2027, 1, 15),
            },
            "note": "Bitte Termin vormittags 🙂",
        },
        from_agency=False,
        consent=True,
        causation=False,
    )


def referral_requested_v2() -> Envelope:
    """v1's example with the consent's end, in another time zone (the same instant returns)."""
    v1 = referral_requested()
    return _env(
        "referral.requested",
        {**load_payload(v1), "consent_expires_at": AT_BERLIN},
        from_agency=False,
        consent=True,
        causation=False,
        version=2,
    )


def referral_requested_v2_open_ended() -> Envelope:
    """A consent without an end: the field is there, and null."""
    v1 = referral_requested()
    return _env(
        "referral.requested",
        {**load_payload(v1), "consent_expires_at": None},
        from_agency=False,
        consent=True,
        causation=False,
        version=2,
    )


def referral_received() -> Envelope:
    return _env(
        "referral.received",
        {"referral_id": REFERRAL, "received_at": AT, "agency_reference": "JC-2026-0001"},
    )


def referral_accepted() -> Envelope:
    return _env(
        "referral.accepted",
        {"referral_id": REFERRAL, "accepted_at": AT_BERLIN, "agency_reference": None, "note": "ok"},
    )


def referral_rejected() -> Envelope:
    return _env(
        "referral.rejected",
        {
            "referral_id": REFERRAL,
            "rejected_at": AT,
            "reason_code": "not_responsible",
            "reason_text": "Zuständig ist die Agentur für Arbeit.",
        },
    )


def appointment_scheduled() -> Envelope:
    return _env(
        "appointment.scheduled",
        {"referral_id": REFERRAL, "starts_at": AT_BERLIN, "location": "Raum 3.14", "note": None},
        consent=True,
    )


def measure_started() -> Envelope:
    return _env(
        "measure.started",
        {
            "referral_id": REFERRAL,
            "started_at": AT,
            "measure": {"kind": "training", "name": "Umschulung Fachinformatik", "provider": None},
        },
    )


def measure_completed() -> Envelope:
    return _env(
        "measure.completed",
        {"referral_id": REFERRAL, "completed_at": AT, "result": "bestanden"},
    )


def measure_aborted() -> Envelope:
    return _env(
        "measure.aborted",
        {"referral_id": REFERRAL, "aborted_at": AT, "reason_code": "moved_away", "note": None},
    )


def referral_withdrawn() -> Envelope:
    return _env(
        "referral.withdrawn",
        {"referral_id": REFERRAL, "withdrawn_at": AT, "reason_code": "consent_revoked"},
        from_agency=False,
    )


def consent_revoked() -> Envelope:
    return _env(
        "consent.revoked",
        {"revoked_at": AT, "referral_ids": [REFERRAL, uuid.uuid4()]},
        from_agency=False,
        consent=True,
    )


def consent_revoked_empty() -> Envelope:
    return _env(
        "consent.revoked", {"revoked_at": AT, "referral_ids": []}, from_agency=False, consent=True
    )


def status_query() -> Envelope:
    return _env("status.query", {"referral_id": REFERRAL}, from_agency=False, causation=False)


def status_answer() -> Envelope:
    return _env("status.answer", {"referral_id": REFERRAL, "status": "started", "as_of": AT})


def message_rejected() -> Envelope:
    return _env(
        "message.rejected",
        {
            "rejected_message_id": uuid.uuid4(),
            "rejected_type": "referral.requested",
            "reason_code": "schema_invalid",
            "reason_text": "line 12: element 'foo' is not expected",
        },
    )


def course_obligation_imposed() -> Envelope:
    return _env(
        "course_obligation.imposed",
        {
            "obligation_id": uuid.uuid4(),
            "client": {
                "given_name": "Amina",
                "family_name": "Haddad",
                "birth_date": date(1990, 4, 12),
            },
            "imposed_by": "auslaenderbehoerde",
            "imposed_at": date(2026, 3, 1),
            "course": "integration_course",
            "due_date": None,
        },
        consent=True,
        causation=False,
    )


#: One or more examples of every (type, version) in messaging.contracts.CONTRACTS.
def referral_delivered() -> Envelope:
    return _env(
        "referral.delivered",
        {
            "referral_id": REFERRAL,
            "delivered_at": datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            "channel": "xml_file",
        },
    )


def delivery_delayed() -> Envelope:
    return _env(
        "delivery.delayed",
        {
            "referral_id": REFERRAL,
            "since": datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            "attempts": 4,
            "last_error": "exchange folder not writable",
        },
    )


def delivery_failed() -> Envelope:
    return _env(
        "delivery.failed",
        {
            "referral_id": REFERRAL,
            "failed_at": datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
            "reason": "HTTP 400: unknown office",
        },
    )


def delivery_failed_v2() -> Envelope:
    return _env(
        "delivery.failed",
        {
            "referral_id": REFERRAL,
            "failed_at": datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
            "reason_code": "consent_expired",
            "reason": "consent expired at 2026-03-01T00:00:00+00:00",
        },
        version=2,
    )


def delivery_failed_v2_without_text() -> Envelope:
    return _env(
        "delivery.failed",
        {
            "referral_id": REFERRAL,
            "failed_at": datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
            "reason_code": "consent_revoked",
        },
        version=2,
    )


EXAMPLES: dict[str, Callable[[], Envelope]] = {
    f.__name__: f
    for f in (
        referral_requested,
        referral_requested_v2,
        referral_requested_v2_open_ended,
        referral_received,
        referral_accepted,
        referral_rejected,
        appointment_scheduled,
        measure_started,
        measure_completed,
        measure_aborted,
        referral_withdrawn,
        consent_revoked,
        consent_revoked_empty,
        status_query,
        status_answer,
        message_rejected,
        course_obligation_imposed,
        referral_delivered,
        delivery_delayed,
        delivery_failed,
        delivery_failed_v2,
        delivery_failed_v2_without_text,
    )
}
