"""What a connector reports about delivering a referral to the agency's channel: handed
over, delayed, or failed for good."""

from __future__ import annotations

from marshmallow import fields, validate

from tenants.vocabulary import CHANNELS

from .base import Contract, referral_id_field, text_field


class ReferralDeliveredV1(Contract):
    """The connector handed the referral to the agency's channel (status "sent")."""

    message_type = "referral.delivered"
    version = 1

    referral_id = referral_id_field()
    delivered_at = fields.AwareDateTime(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))


class DeliveryDelayedV1(Contract):
    """The agency has not taken the referral for longer than the connector's threshold."""

    message_type = "delivery.delayed"
    version = 1

    referral_id = referral_id_field()
    since = fields.AwareDateTime(required=True)
    attempts = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    last_error = text_field(500, load_default=None, allow_none=True)


class DeliveryFailedV1(Contract):
    """The agency refused the referral for good (it will not be retried)."""

    message_type = "delivery.failed"
    version = 1

    referral_id = referral_id_field()
    failed_at = fields.AwareDateTime(required=True)
    reason = text_field(2000, required=True)


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

    referral_id = referral_id_field()
    failed_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(DELIVERY_FAILURE_CODES))
    reason = text_field(2000, load_default=None, allow_none=True)
