"""Versioned message contracts: one marshmallow schema per (type, version).

Changing a contract means adding a new version, never editing a published one; every version
has a golden JSON example under ``tests/contract/golden/<type>/<version>.json``. Validation is
strict: unknown fields, unknown types or versions, and personal data without a consent id are
refused, before a message enters the outbox and again when it is received.
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from messaging.envelope import Envelope
from tenants.vocabulary import (
    AGENCY_KINDS,
    CHANNELS,
    DATA_CATEGORIES,
    PURPOSES,
    ReferralStatus,
)

#: Parties that send and receive inside a tenant: the agreement service and the agency kinds.
PARTY = validate.Regexp(r"^[a-z][a-z0-9_-]{0,62}$", error="must be a party name")
#: Why a message was refused technically (message.rejected, dead-letter reasons).
REJECTION_CODES = (
    "malformed",
    "oversized",
    "invalid_signature",
    "unknown_key",
    "wrong_tenant",
    "wrong_recipient",
    "unknown_type",
    "schema_invalid",
    "consent_missing",
    "handler_failed",
    "unknown_referral",
    "wrong_agency",
    "unknown_client",
)


class ContractError(Exception):
    """A message breaks its contract; ``code`` is one of :data:`REJECTION_CODES`."""

    def __init__(self, code: str, detail: Any = None) -> None:
        super().__init__(f"{code}: {detail}" if detail is not None else code)
        self.code = code
        self.detail = detail


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class Contract(_Strict):
    """Base of payload schemas. ``personal_data``: the envelope must carry a consent id."""

    message_type: ClassVar[str]
    version: ClassVar[int]
    personal_data: ClassVar[bool] = False
    #: Personal data passed on by law rather than by consent (e.g. § 44a AufenthG notices):
    #: the payload names its legal basis and no consent id is required.
    by_law: ClassVar[bool] = False


def _text(max_len: int, **kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_len), **kw)


def _referral_id() -> fields.UUID:
    return fields.UUID(required=True)


# --- client data, by consented category ------------------------------------------------------


class IdentitySchema(_Strict):
    given_name = _text(200, required=True)
    family_name = _text(200, required=True)
    birth_date = fields.Date(required=True)


class ContactSchema(_Strict):
    phone = _text(50)
    email = fields.Email()
    address = _text(300)


class ResidenceStatusSchema(_Strict):
    status = _text(50, required=True)
    valid_until = fields.Date(allow_none=True)


class LanguageSchema(_Strict):
    language = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{2,3}$"))
    level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(("native", "A1", "A2", "B1", "B2", "C1", "C2")),
    )


def _free_category() -> fields.Dict:
    """Categories whose inner shape the agreement service owns; only the key set is fixed."""
    return fields.Dict(keys=fields.String(validate=validate.Length(max=100)))


class ClientDataSchema(_Strict):
    """Only the data categories the client consented to for this recipient."""

    identity = fields.Nested(IdentitySchema)
    contact = fields.Nested(ContactSchema)
    residence_status = fields.Nested(ResidenceStatusSchema)
    languages = fields.List(fields.Nested(LanguageSchema))
    education = _free_category()
    work_history = _free_category()
    qualifications = _free_category()
    family = _free_category()
    health = _free_category()
    assessment = _free_category()
    agreement_goals = _free_category()


class StepSchema(_Strict):
    description = _text(1000, required=True)
    due_date = fields.Date(load_default=None, allow_none=True)


# --- contracts, version 1 --------------------------------------------------------------------


class ReferralRequestedV1(Contract):
    message_type = "referral.requested"
    version = 1
    personal_data = True

    referral_id = _referral_id()
    data_categories = fields.List(
        fields.String(validate=validate.OneOf(DATA_CATEGORIES)),
        required=True,
        validate=validate.Length(min=1),
    )
    client = fields.Nested(ClientDataSchema, required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    step = fields.Nested(StepSchema, load_default=None, allow_none=True)
    note = _text(2000, load_default=None, allow_none=True)

    @validates_schema
    def only_consented_categories(self, data: dict[str, Any], **_: Any) -> None:
        sent = set(data.get("client", {}))
        declared = set(data.get("data_categories", []))
        if sent != declared:
            raise ValidationError("client data must match data_categories exactly", "client")


class ReferralRequestedV2(ReferralRequestedV1):
    """v1 and the end of the consent's validity: the connector checks it before every
    delivery attempt, so a referral waiting for an unreachable agency is not handed over once
    the consent has expired. ``None``: the consent has no end (it can still be revoked)."""

    version = 2

    consent_expires_at = fields.AwareDateTime(required=True, allow_none=True)


class ReferralReceivedV1(Contract):
    message_type = "referral.received"
    version = 1

    referral_id = _referral_id()
    received_at = fields.AwareDateTime(required=True)
    agency_reference = _text(100, load_default=None, allow_none=True)


class ReferralAcceptedV1(Contract):
    message_type = "referral.accepted"
    version = 1

    referral_id = _referral_id()
    accepted_at = fields.AwareDateTime(required=True)
    agency_reference = _text(100, load_default=None, allow_none=True)
    note = _text(2000, load_default=None, allow_none=True)


REFERRAL_REJECTION_CODES = (
    "not_responsible",
    "no_capacity",
    "requirements_not_met",
    "consent_insufficient",
    "duplicate",
    "other",
)


class ReferralRejectedV1(Contract):
    message_type = "referral.rejected"
    version = 1

    referral_id = _referral_id()
    rejected_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(REFERRAL_REJECTION_CODES))
    reason_text = _text(2000, load_default=None, allow_none=True)


class AppointmentScheduledV1(Contract):
    message_type = "appointment.scheduled"
    version = 1
    personal_data = True  # a named person's date and place

    referral_id = _referral_id()
    starts_at = fields.AwareDateTime(required=True)
    location = _text(300, load_default=None, allow_none=True)
    note = _text(2000, load_default=None, allow_none=True)


class MeasureSchema(_Strict):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(
            (
                "integration_course",
                "vocational_language_course",
                "training",
                "qualification_recognition",
                "job_placement",
                "counselling",
                "other",
            )
        ),
    )
    name = _text(300, required=True)
    provider = _text(300, load_default=None, allow_none=True)


class MeasureStartedV1(Contract):
    message_type = "measure.started"
    version = 1

    referral_id = _referral_id()
    started_at = fields.AwareDateTime(required=True)
    measure = fields.Nested(MeasureSchema, required=True)


class MeasureCompletedV1(Contract):
    message_type = "measure.completed"
    version = 1

    referral_id = _referral_id()
    completed_at = fields.AwareDateTime(required=True)
    result = _text(300, load_default=None, allow_none=True)
    note = _text(2000, load_default=None, allow_none=True)


class MeasureAbortedV1(Contract):
    message_type = "measure.aborted"
    version = 1

    referral_id = _referral_id()
    aborted_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(
        required=True,
        validate=validate.OneOf(
            ("dropped_out", "moved_away", "illness", "measure_cancelled", "other")
        ),
    )
    note = _text(2000, load_default=None, allow_none=True)


class ReferralWithdrawnV1(Contract):
    message_type = "referral.withdrawn"
    version = 1

    referral_id = _referral_id()
    withdrawn_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(
        required=True,
        validate=validate.OneOf(("by_office", "consent_revoked", "client_request", "other")),
    )


class ConsentRevokedV1(Contract):
    message_type = "consent.revoked"
    version = 1
    personal_data = True  # names the consent; the recipient must erase what it received

    revoked_at = fields.AwareDateTime(required=True)
    referral_ids = fields.List(fields.UUID(), required=True)


class StatusQueryV1(Contract):
    message_type = "status.query"
    version = 1

    referral_id = _referral_id()


#: What an agency can say a referral's status is (status.answer): every status from its
#: receipt on, or "unknown" (the agency has no such referral).
REFERRAL_STATUSES = (
    *(s.value for s in ReferralStatus if s not in (ReferralStatus.REQUESTED, ReferralStatus.SENT)),
    "unknown",
)


class StatusAnswerV1(Contract):
    message_type = "status.answer"
    version = 1

    referral_id = _referral_id()
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    as_of = fields.AwareDateTime(required=True)


class MessageRejectedV1(Contract):
    """A technical rejection, like XInneres' ReturnToSender: which message, and why."""

    message_type = "message.rejected"
    version = 1

    rejected_message_id = fields.UUID(required=True)
    rejected_type = _text(100, load_default=None, allow_none=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(REJECTION_CODES))
    reason_text = _text(2000, load_default=None, allow_none=True)


class CourseObligationImposedV1(Contract):
    """§ 44a AufenthG: the agency obliges the client to attend a course (agency-initiated)."""

    message_type = "course_obligation.imposed"
    version = 1
    personal_data = True
    by_law = True

    obligation_id = fields.UUID(required=True)
    client = fields.Nested(IdentitySchema, required=True)
    imposed_by = fields.String(required=True, validate=validate.OneOf(AGENCY_KINDS))
    imposed_at = fields.Date(required=True)
    course = fields.String(
        required=True,
        validate=validate.OneOf(("integration_course", "vocational_language_course")),
    )
    legal_basis = _text(100, load_default="§ 44a AufenthG")
    due_date = fields.Date(load_default=None, allow_none=True)


class ReferralDeliveredV1(Contract):
    """The connector handed the referral to the agency's channel (status "sent")."""

    message_type = "referral.delivered"
    version = 1

    referral_id = _referral_id()
    delivered_at = fields.AwareDateTime(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))


class DeliveryDelayedV1(Contract):
    """The agency has not taken the referral for longer than the connector's threshold."""

    message_type = "delivery.delayed"
    version = 1

    referral_id = _referral_id()
    since = fields.AwareDateTime(required=True)
    attempts = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    last_error = _text(500, load_default=None, allow_none=True)


class DeliveryFailedV1(Contract):
    """The agency refused the referral for good (it will not be retried)."""

    message_type = "delivery.failed"
    version = 1

    referral_id = _referral_id()
    failed_at = fields.AwareDateTime(required=True)
    reason = _text(2000, required=True)


#: Why a referral will never reach the agency (delivery.failed v2).
DELIVERY_FAILURE_CODES = (
    "agency_refused",  # the agency's channel refused it for good (e.g. HTTP 400)
    "consent_expired",  # the consent ended before the agency took it
    "consent_revoked",  # the consent was revoked before the agency took it
)


class DeliveryFailedV2(Contract):
    """The referral will never reach the agency, and why: refused for good by the agency, or
    not handed over because the client's consent expired or was revoked first."""

    message_type = "delivery.failed"
    version = 2

    referral_id = _referral_id()
    failed_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(DELIVERY_FAILURE_CODES))
    reason = _text(2000, load_default=None, allow_none=True)


CONTRACTS: Mapping[tuple[str, int], type[Contract]] = {
    (schema.message_type, schema.version): schema
    for schema in (
        ReferralRequestedV1,
        ReferralRequestedV2,
        ReferralReceivedV1,
        ReferralAcceptedV1,
        ReferralRejectedV1,
        AppointmentScheduledV1,
        MeasureStartedV1,
        MeasureCompletedV1,
        MeasureAbortedV1,
        ReferralWithdrawnV1,
        ConsentRevokedV1,
        StatusQueryV1,
        StatusAnswerV1,
        MessageRejectedV1,
        CourseObligationImposedV1,
        ReferralDeliveredV1,
        DeliveryDelayedV1,
        DeliveryFailedV1,
        DeliveryFailedV2,
    )
}
MESSAGE_TYPES: frozenset[str] = frozenset(t for t, _ in CONTRACTS)

_SCHEMAS: dict[tuple[str, int], Contract] = {}


def contract_for(message_type: str, version: int) -> Contract:
    """The (cached) schema instance of a type and version; ContractError if unknown."""
    key = (message_type, version)
    schema = _SCHEMAS.get(key)
    if schema is None:
        cls = CONTRACTS.get(key)
        if cls is None:
            raise ContractError("unknown_type", f"{message_type} v{version}")
        schema = _SCHEMAS[key] = cls()
    return schema


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
_PARTY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


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
    sender = text_of("sender", _PARTY_RE)
    recipient = text_of("recipient", _PARTY_RE)
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
    """The payload with typed values (UUID, date, datetime); ContractError if invalid."""
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


#: Envelopes :func:`new_envelope` built and validated, by identity (envelopes are frozen and
#: their payloads produced by the contract's own dump, so checking them again finds nothing).
_VALIDATED: weakref.WeakValueDictionary[int, Envelope] = weakref.WeakValueDictionary()


def validate_envelope(envelope: Envelope) -> None:
    """Check an envelope against its contract (raises ContractError)."""
    load_payload(envelope)


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
    _VALIDATED[id(envelope)] = envelope
    return envelope
