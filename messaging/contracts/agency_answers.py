"""What a partner agency answers about a referral: receipt, acceptance or rejection, the
appointment, the measure's start and end, and its status when asked
(:data:`tenants.vocabulary.AGENCY_ANSWER_TYPES`; the § 44a notice is in :mod:`.notices`)."""

from __future__ import annotations

from marshmallow import fields, validate

from tenants.vocabulary import ReferralStatus

from .base import Contract, StrictSchema, referral_id_field, text_field


class ReferralReceivedV1(Contract):
    message_type = "referral.received"
    version = 1

    referral_id = referral_id_field()
    received_at = fields.AwareDateTime(required=True)
    agency_reference = text_field(100, load_default=None, allow_none=True)


class ReferralAcceptedV1(Contract):
    message_type = "referral.accepted"
    version = 1

    referral_id = referral_id_field()
    accepted_at = fields.AwareDateTime(required=True)
    agency_reference = text_field(100, load_default=None, allow_none=True)
    note = text_field(2000, load_default=None, allow_none=True)


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

    referral_id = referral_id_field()
    rejected_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(REFERRAL_REJECTION_CODES))
    reason_text = text_field(2000, load_default=None, allow_none=True)


class AppointmentScheduledV1(Contract):
    message_type = "appointment.scheduled"
    version = 1
    personal_data = True  # a named person's date and place

    referral_id = referral_id_field()
    starts_at = fields.AwareDateTime(required=True)
    location = text_field(300, load_default=None, allow_none=True)
    note = text_field(2000, load_default=None, allow_none=True)


class MeasureSchema(StrictSchema):
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
    name = text_field(300, required=True)
    provider = text_field(300, load_default=None, allow_none=True)


class MeasureStartedV1(Contract):
    message_type = "measure.started"
    version = 1

    referral_id = referral_id_field()
    started_at = fields.AwareDateTime(required=True)
    measure = fields.Nested(MeasureSchema, required=True)


class MeasureCompletedV1(Contract):
    message_type = "measure.completed"
    version = 1

    referral_id = referral_id_field()
    completed_at = fields.AwareDateTime(required=True)
    result = text_field(300, load_default=None, allow_none=True)
    note = text_field(2000, load_default=None, allow_none=True)


class MeasureAbortedV1(Contract):
    message_type = "measure.aborted"
    version = 1

    referral_id = referral_id_field()
    aborted_at = fields.AwareDateTime(required=True)
    reason_code = fields.String(
        required=True,
        validate=validate.OneOf(
            ("dropped_out", "moved_away", "illness", "measure_cancelled", "other")
        ),
    )
    note = text_field(2000, load_default=None, allow_none=True)


#: What an agency can say a referral's status is (status.answer): every status from its
#: receipt on, or "unknown" (the agency has no such referral).
REFERRAL_STATUSES = (
    *(s.value for s in ReferralStatus if s not in (ReferralStatus.REQUESTED, ReferralStatus.SENT)),
    "unknown",
)


class StatusAnswerV1(Contract):
    message_type = "status.answer"
    version = 1

    referral_id = referral_id_field()
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    as_of = fields.AwareDateTime(required=True)
