"""Contract rules beyond the golden examples (no services needed)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from messaging.contracts import MESSAGE_TYPES, ContractError, load_envelope, new_envelope

from .factories import referral_requested

ARCHITECTURE_TYPES = {
    "referral.requested",
    "referral.received",
    "referral.accepted",
    "referral.rejected",
    "appointment.scheduled",
    "measure.started",
    "measure.completed",
    "measure.aborted",
    "referral.withdrawn",
    "consent.revoked",
    "status.query",
    "status.answer",
    "message.rejected",
    "course_obligation.imposed",
}


def test_every_architecture_message_type_has_a_contract() -> None:
    assert ARCHITECTURE_TYPES <= MESSAGE_TYPES


def test_client_data_must_match_the_consented_categories() -> None:
    with pytest.raises(ContractError) as exc:
        new_envelope(
            "referral.requested",
            1,
            tenant="essen",
            sender="agreements",
            recipient="jobcenter",
            correlation_id=uuid.uuid4(),
            consent_id=uuid.uuid4(),
            payload={
                "referral_id": uuid.uuid4(),
                "data_categories": ["identity"],
                "client": {
                    "identity": {
                        "given_name": "A",
                        "family_name": "B",
                        "birth_date": date(1990, 1, 1),
                    },
                    "health": {"note": "not consented"},
                },
                "purpose": "work",
            },
        )
    assert exc.value.code == "schema_invalid"


def test_rejection_needs_a_known_reason_code() -> None:
    with pytest.raises(ContractError):
        new_envelope(
            "referral.rejected",
            1,
            tenant="essen",
            sender="jobcenter",
            recipient="agreements",
            correlation_id=uuid.uuid4(),
            payload={
                "referral_id": uuid.uuid4(),
                "rejected_at": datetime.now(UTC),
                "reason_code": "felt_like_it",
            },
        )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"extra": 1}, "malformed"),
        ({"version": "1"}, "malformed"),
        ({"occurred_at": "2026-11-02T09:30:00"}, "malformed"),  # naive timestamps refused
        ({"type": "referral.teleported"}, "unknown_type"),
        ({"sender": "Not A Party!"}, "malformed"),
    ],
)
def test_envelope_rules(change: dict[str, object], code: str) -> None:
    data = referral_requested("essen").to_dict() | change
    with pytest.raises(ContractError) as exc:
        load_envelope(data)
    assert exc.value.code == code


def test_envelope_must_be_an_object() -> None:
    with pytest.raises(ContractError) as exc:
        load_envelope(["not", "an", "object"])
    assert exc.value.code == "malformed"
