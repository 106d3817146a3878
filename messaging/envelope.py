"""The envelope every message travels in.

Messages carry ids and the minimum data the recipient needs, never ORM objects. The envelope is
plain JSON (no pickle) and is signed as a whole (see :mod:`messaging.signing`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from messaging import topology


@dataclass(frozen=True)
class Envelope:
    """One message: routing facts in the envelope, the contract-defined body in ``payload``.

    ``correlation_id`` names the conversation (the referral); ``causation_id`` the message that
    caused this one. ``consent_id`` is required by the contract of every type that carries
    personal data.
    """

    type: str
    version: int
    tenant: str
    sender: str
    recipient: str
    correlation_id: uuid.UUID
    payload: Mapping[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    consent_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")

    @property
    def routing_key(self) -> str:
        """``<tenant>.<recipient>.<type>``: the topic exchange routes on tenant and recipient."""
        return topology.routing_key(self.tenant, self.recipient, self.type)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form; :func:`messaging.contracts.load_envelope` is its inverse."""
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "tenant": self.tenant,
            "sender": self.sender,
            "recipient": self.recipient,
            "correlation_id": str(self.correlation_id),
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "consent_id": str(self.consent_id) if self.consent_id else None,
            "payload": dict(self.payload),
        }

    def reply(
        self,
        type: str,
        version: int,
        payload: Mapping[str, Any],
        *,
        consent_id: uuid.UUID | None = None,
    ) -> Envelope:
        """A message answering this one: same conversation, caused by it, sent back."""
        return Envelope(
            type=type,
            version=version,
            tenant=self.tenant,
            sender=self.recipient,
            recipient=self.sender,
            correlation_id=self.correlation_id,
            causation_id=self.id,
            consent_id=consent_id,
            payload=payload,
        )
