"""Envelopes and payloads held to their contracts, in both directions: a received envelope
(JSON form) parsed strictly and validated, and an outgoing payload given with typed values
dumped to its wire form and validated before it becomes an envelope."""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, validate

from messaging.envelope import Envelope

from .registry import contract_for
from .rejection import ContractError

#: Parties that send and receive inside a tenant: the agreement service and the agency kinds.
PARTY_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
#: The same rule as a marshmallow validator (the XÖV schema derives its pattern from it).
PARTY = validate.Regexp(PARTY_NAME, error="must be a party name")

ENVELOPE_FIELDS = frozenset(
    {
        "id",
        "type",
        "version",
        "tenant",
        "sender",
        "recipient",
        "correlation_id",
        "causation_id",
        "occurred_at",
        "consent_id",
        "payload",
    }
)


def _parse_envelope(data: Mapping[str, Any]) -> Envelope:
    """Strictly parse the envelope's own fields (the payload is the contract's business).

    Hand-written rather than a marshmallow schema: it runs for every received message and is
    a fixed, small structure; the rules are the same (unknown and missing keys refused, UUIDs,
    aware timestamps, party names).
    """
    errors: dict[str, str] = {}
    keys = set(data)
    for key in sorted(keys - ENVELOPE_FIELDS):
        errors[key] = "Unknown field."
    required = ENVELOPE_FIELDS - {"causation_id", "consent_id"}
    for key in sorted(required - keys):
        errors[key] = "Missing data for required field."
    if errors:
        raise ContractError("malformed", errors)

    def uuid_of(key: str, optional: bool = False) -> uuid.UUID | None:
        value = data.get(key)
        if value is None and optional:
            return None
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        errors[key] = "Not a valid UUID."
        return None

    def text_of(key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not 0 < len(value) <= 100:
            errors[key] = "Not a valid string."
            return ""
        if pattern is not None and not pattern.match(value):
            errors[key] = "must be a party name"
        return value

    message_id = uuid_of("id")
    correlation_id = uuid_of("correlation_id")
    causation_id = uuid_of("causation_id", optional=True)
    consent_id = uuid_of("consent_id", optional=True)
    message_type = text_of("type")
    tenant = text_of("tenant")
    sender = text_of("sender", PARTY_NAME)
    recipient = text_of("recipient", PARTY_NAME)
    version = data.get("version")
    if type(version) is not int or version < 1:
        errors["version"] = "Not a valid integer."
    occurred_at: datetime | None = None
    raw_time = data.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(raw_time) if isinstance(raw_time, str) else None
    except ValueError:
        occurred_at = None
    if occurred_at is None or occurred_at.tzinfo is None:
        errors["occurred_at"] = "Not a valid aware datetime."
    payload = data.get("payload")
    if not isinstance(payload, dict) or not all(isinstance(k, str) for k in payload):
        errors["payload"] = "Not a valid mapping type."
    if errors:
        raise ContractError("malformed", errors)
    assert message_id and correlation_id and occurred_at and isinstance(version, int)
    return Envelope(
        id=message_id,
        type=message_type,
        version=version,
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        correlation_id=correlation_id,
        causation_id=causation_id,
        occurred_at=occurred_at,
        consent_id=consent_id,
        payload=payload,  # type: ignore[arg-type]
    )


def load_payload(envelope: Envelope) -> dict[str, Any]:
    """The payload with typed values (UUID, date, datetime); ContractError if invalid.

    An envelope this module validated already (received through :func:`load_envelope`,
    built by :func:`new_envelope`) is not validated again: its typed payload was kept (the
    consumer validates on receipt, the handler then reads the payload)."""
    typed = _TYPED.get(id(envelope))
    if typed is not None and _VALIDATED.get(id(envelope)) is envelope:
        return dict(typed)
    return _load_payload(envelope)


def _load_payload(envelope: Envelope) -> dict[str, Any]:
    schema = contract_for(envelope.type, envelope.version)
    if schema.personal_data and not schema.by_law and envelope.consent_id is None:
        raise ContractError("consent_missing", f"{envelope.type} carries personal data")
    try:
        result: dict[str, Any] = schema.load(envelope.payload)
    except ValidationError as exc:
        raise ContractError("schema_invalid", exc.messages) from exc
    return result


def _dump(message_type: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = contract_for(message_type, version).dump(data)
    return {k: v for k, v in wire.items() if v is not None or k in data}


def dump_payload(message_type: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """The wire (JSON) form of a payload given with typed values; validated on the way."""
    wire = _dump(message_type, version, data)
    try:
        contract_for(message_type, version).load(wire)
    except ValidationError as exc:
        raise ContractError("schema_invalid", exc.messages) from exc
    return wire


#: Envelopes this module validated, by identity (envelopes are frozen, so checking one again
#: would find nothing new), and their typed payloads (dropped with the envelope).
_VALIDATED: weakref.WeakValueDictionary[int, Envelope] = weakref.WeakValueDictionary()
_TYPED: dict[int, dict[str, Any]] = {}


def _remember(envelope: Envelope, typed: dict[str, Any]) -> None:
    key = id(envelope)
    _VALIDATED[key] = envelope
    _TYPED[key] = typed
    weakref.finalize(envelope, _TYPED.pop, key, None)


def validate_envelope(envelope: Envelope) -> None:
    """Check an envelope against its contract (raises ContractError)."""
    if _VALIDATED.get(id(envelope)) is envelope:
        return
    _remember(envelope, _load_payload(envelope))


def is_validated(envelope: Envelope) -> bool:
    """True for an envelope :func:`new_envelope` returned (this very object)."""
    return _VALIDATED.get(id(envelope)) is envelope


def load_envelope(data: Any) -> Envelope:
    """Parse and fully validate a received envelope (JSON form); raises ContractError."""
    if not isinstance(data, Mapping):
        raise ContractError("malformed", "envelope is not an object")
    envelope = _parse_envelope(data)
    validate_envelope(envelope)
    return envelope


def new_envelope(
    message_type: str,
    version: int,
    *,
    tenant: str,
    sender: str,
    recipient: str,
    correlation_id: uuid.UUID,
    payload: Mapping[str, Any],
    consent_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
) -> Envelope:
    """Build a validated envelope from a payload with typed values (dates, UUIDs)."""
    envelope = Envelope(
        type=message_type,
        version=version,
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        correlation_id=correlation_id,
        causation_id=causation_id,
        consent_id=consent_id,
        payload=_dump(message_type, version, payload),  # validated once, just below
    )
    validate_envelope(envelope)
    return envelope
