from __future__ import annotations

from marshmallow import fields, validate

from ..models.vocabulary import AgencyKind, Purpose, ReferralStatus
from .common import PageQuerySchema, Representation, StrictSchema, one_of, text


class ReferralInputSchema(StrictSchema):
    client_id = fields.UUID(required=True)
    recipient_kind = one_of(AgencyKind, required=True)
    purpose = one_of(Purpose, required=True)
    consent_id = fields.UUID(required=True)
    step_id = fields.UUID(allow_none=True)
    note = text(2000, required=False, min_length=0, load_default="")


class ReferralEventSchema(Representation):
    status = fields.String()
    at = fields.DateTime()
    message_id = fields.UUID(allow_none=True)
    reason_code = fields.String(
        allow_none=True,
        metadata={
            "description": "why: the agency's reason (e.g. not_responsible), consent_revoked, "
            "delivery_delayed, delivery_failed, or not_sent_consent_expired / "
            "not_sent_consent_revoked (the consent ended or was revoked before the agency "
            "took the referral: it was never sent)"
        },
    )
    note = fields.String()


class ReferralSchema(Representation):
    id = fields.UUID()
    client_id = fields.UUID()
    recipient_kind = fields.String()
    purpose = fields.String()
    consent_id = fields.UUID()
    step_id = fields.UUID(allow_none=True)
    note = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    history = fields.List(fields.Nested(ReferralEventSchema))


class ReferralQuerySchema(PageQuerySchema):
    client_id = fields.UUID()
    status = fields.String(validate=validate.OneOf([s.value for s in ReferralStatus]))


class ReferralPageSchema(Representation):
    items = fields.List(fields.Nested(ReferralSchema))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()


class WithdrawInputSchema(StrictSchema):
    reason = text(2000, required=False, min_length=0, load_default="")


class OfficeSchema(Representation):
    id = fields.UUID()
    key = fields.String()
    name = fields.String()
    programme = fields.String()
    carrier = fields.String()
    address = fields.String()


class PartnerSchema(Representation):
    key = fields.String()
    kind = fields.String()
    name = fields.String()
    channel = fields.String()
