"""Factories for test envelopes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from messaging.contracts import new_envelope
from messaging.envelope import Envelope


def referral_requested(
    tenant: str,
    *,
    recipient: str = "jobcenter",
    correlation_id: uuid.UUID | None = None,
    note: str | None = None,
) -> Envelope:
    referral_id = correlation_id or uuid.uuid4()
    payload: dict[str, Any] = {
        "referral_id": referral_id,
        "data_categories": ["identity", "languages"],
        "client": {
            "identity": {
                "given_name": "Amina",
                "family_name": "Haddad",
                "birth_date": date(1990, 4, 12),
            },
            "languages": [{"language": "ar", "level": "native"}, {"language": "de", "level": "A2"}],
        },
        "purpose": "work",
        "step": {"description": "Beratung zur Arbeitsvermittlung", "due_date": date(2027, 1, 15)},
        "note": note,
    }
    return new_envelope(
        "referral.requested",
        1,
        tenant=tenant,
        sender="agreements",
        recipient=recipient,
        correlation_id=referral_id,
        consent_id=uuid.uuid4(),
        payload=payload,
    )


def referral_received(
    tenant: str, *, correlation_id: uuid.UUID | None = None, recipient: str = "agreements"
) -> Envelope:
    referral_id = correlation_id or uuid.uuid4()
    return new_envelope(
        "referral.received",
        1,
        tenant=tenant,
        sender="jobcenter",
        recipient=recipient,
        correlation_id=referral_id,
        payload={"referral_id": referral_id, "received_at": datetime.now(UTC)},
    )
