"""Contract rules beyond the golden examples (no services needed)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from messaging.contracts import (
    MESSAGE_TYPES,
    ContractError,
    load_envelope,
    load_payload,
    new_envelope,
)

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


def _requested_v2(**changes: object) -> dict[str, object]:
    """A referral.requested v2 in wire form: v1's example with the consent's end."""
    data = referral_requested("essen").to_dict()
    payload = {**data["payload"], "consent_expires_at": "2027-10-31T23:00:00+00:00", **changes}
    return data | {"version": 2, "payload": {k: v for k, v in payload.items() if v != "-"}}


def test_referral_requested_v2_names_the_consents_end_or_null() -> None:
    envelope = load_envelope(_requested_v2())
    assert load_payload(envelope)["consent_expires_at"] == datetime(2027, 10, 31, 23, tzinfo=UTC)
    assert (
        load_payload(load_envelope(_requested_v2(consent_expires_at=None)))["consent_expires_at"]
        is None
    )


@pytest.mark.parametrize(
    "value",
    ["-", "2027-10-31T23:00:00", "2027-10-31", "soon"],
    ids=["missing", "naive", "date-only", "text"],
)
def test_referral_requested_v2_refuses_an_unclear_end(value: str) -> None:
    with pytest.raises(ContractError) as exc:
        load_envelope(_requested_v2(consent_expires_at=value))
    assert exc.value.code == "schema_invalid"


def test_referral_requested_v1_has_no_consent_end() -> None:
    data = referral_requested("essen").to_dict()
    data["payload"]["consent_expires_at"] = None
    with pytest.raises(ContractError) as exc:
        load_envelope(data)
    assert exc.value.code == "schema_invalid"


@pytest.mark.parametrize(
    ("reason_code", "valid"),
    [
        ("agency_refused", True),
        ("consent_expired", True),
        ("consent_revoked", True),
        ("bored", False),
    ],
)
def test_delivery_failed_v2_needs_a_known_reason_code(reason_code: str, valid: bool) -> None:
    def build() -> object:
        return new_envelope(
            "delivery.failed",
            2,
            tenant="essen",
            sender="jobcenter",
            recipient="agreements",
            correlation_id=uuid.uuid4(),
            payload={
                "referral_id": uuid.uuid4(),
                "failed_at": datetime.now(UTC),
                "reason_code": reason_code,
            },
        )

    if valid:
        build()
    else:
        with pytest.raises(ContractError):
            build()


def test_a_validated_envelope_is_not_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consumer validates a message on receipt and its handler reads the payload: the
    typed payload is kept with the envelope, so the contract runs once; a changed copy of the
    envelope (another object) is validated afresh."""
    import dataclasses

    from messaging.contracts import validation

    received = load_envelope(referral_requested("essen").to_dict())
    calls: list[str] = []
    real = validation._load_payload
    monkeypatch.setattr(validation, "_load_payload", lambda e: calls.append(e.type) or real(e))
    first, second = load_payload(received), load_payload(received)
    assert first == second and first is not second  # a copy: handlers may not share it
    assert calls == []
    changed = dataclasses.replace(received, payload={**received.payload, "purpose": "nonsense"})
    with pytest.raises(ContractError):
        load_payload(changed)
    assert calls == ["referral.requested"]
