"""What an office sends a partner agency: the referral request, its withdrawal, the
revocation of the consent it relied on, and the question where it stands
(:data:`tenants.vocabulary.AGENCY_BOUND_TYPES`)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from tenants.vocabulary import DATA_CATEGORIES, PURPOSES

from .base import Contract, StrictSchema, referral_id_field, text_field
from .client_data import ClientDataSchema


class StepSchema(StrictSchema):
    """The agreement step the referral serves."""

    description = text_field(1000, required=True)
    due_date = fields.Date(load_default=None, allow_none=True)


class ReferralRequestedV1(Contract):
    message_type = "referral.requested"
    version = 1
    personal_data = True

    referral_id = referral_id_field()
    data_categories = fields.List(
        fields.String(validate=validate.OneOf(DATA_CATEGORIES)),
        required=True,
        validate=validate.Length(min=1),
    )
    client = fields.Nested(ClientDataSchema, required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    step = fields.Nested(StepSchema, load_default=None, allow_none=True)
    note = text_field(2000, load_default=None, allow_none=True)

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


class ReferralWithdrawnV1(Contract):
    message_type = "referral.withdrawn"
    version = 1

    referral_id = referral_id_field()
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

    referral_id = referral_id_field()
