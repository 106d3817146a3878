"""What a partner agency tells an office of its own accord, not in answer to a referral."""

from __future__ import annotations

from marshmallow import fields, validate

from tenants.vocabulary import AGENCY_KINDS

from .base import Contract, text_field
from .client_data import IdentitySchema


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
    legal_basis = text_field(100, load_default="§ 44a AufenthG")
    due_date = fields.Date(load_default=None, allow_none=True)
