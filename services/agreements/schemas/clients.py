from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from ..models.vocabulary import AgencyKind, DataCategory, Purpose, ResidenceStatus
from .common import (
    PageQuerySchema,
    Representation,
    StrictSchema,
    aware_datetime,
    date_field,
    not_in_future,
    one_of,
    plausible_date,
    query_text,
    text,
)
from .iso_codes import COUNTRY_MESSAGE, LANGUAGE_MESSAGE, known_country, known_language

COUNTRY: list[Callable[[Any], Any]] = [
    validate.Regexp(r"^[A-Z]{2}$", error=COUNTRY_MESSAGE),
    known_country,
]
LANGUAGE: list[Callable[[Any], Any]] = [
    validate.Regexp(r"^[a-z]{2,3}$", error=LANGUAGE_MESSAGE),
    known_language,
]
POSTAL_CODE = validate.Regexp(r"^[0-9]{5}$", error="German postcode, five digits, e.g. 79098")


class HouseholdSchema(StrictSchema):
    adults = fields.Integer(validate=validate.Range(min=1, max=30))
    children = fields.Integer(validate=validate.Range(min=0, max=30))
    children_under_three = fields.Integer(validate=validate.Range(min=0, max=30))
    single_parent = fields.Boolean()
    notes = text(2000, required=False, min_length=0)


class ClientInputSchema(StrictSchema):
    # Rules over several fields are told on the fields: apispec leaves out
    # ``additionalProperties: false`` of a schema whose Meta has a description.
    given_name = text(100)
    family_name = text(100)
    birth_date = date_field(not_in_future, plausible_date, required=True)
    country_of_origin = fields.String(required=True, validate=COUNTRY)
    languages = fields.List(
        fields.String(validate=LANGUAGE), required=True, validate=validate.Length(min=1, max=20)
    )
    arrival_date = date_field(
        not_in_future, plausible_date, required=True, description="not before birth_date"
    )
    office_id = fields.UUID(
        metadata={"description": "the caller's own office, which is the default"}
    )
    household = fields.Nested(HouseholdSchema, allow_none=True)
    residence_status = one_of(ResidenceStatus, allow_none=True)
    course_obligation = fields.Boolean()
    course_obligation_imposed_by = one_of(
        (AgencyKind.AUSLAENDERBEHOERDE, AgencyKind.JOBCENTER),
        allow_none=True,
        metadata={"description": "needed when course_obligation is true (§ 44a AufenthG)"},
    )
    health_notes = text(
        4000,
        required=False,
        min_length=0,
        allow_none=True,
        metadata={"description": "special category (health): recorded only where needed"},
    )
    postal_code = fields.String(
        allow_none=True,
        validate=POSTAL_CODE,
        metadata={"description": "where the client lives; offers are ranked by distance"},
    )

    @validates_schema
    def dates_in_order(self, data: dict[str, Any], **_: Any) -> None:
        birth: date | None = data.get("birth_date")
        arrival: date | None = data.get("arrival_date")
        if birth and arrival and arrival < birth:
            raise ValidationError("must not be before the birth date", "arrival_date")
        if data.get("course_obligation") and not data.get("course_obligation_imposed_by"):
            raise ValidationError(
                "name who imposed the § 44a obligation", "course_obligation_imposed_by"
            )


class ClientUpdateSchema(ClientInputSchema):
    """Partial update: every field optional, the same rules."""

    class Meta(StrictSchema.Meta):
        pass

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class ClientSchema(Representation):
    id = fields.UUID()
    office_id = fields.UUID()
    responsible_id = fields.UUID(
        allow_none=True,
        metadata={"description": "the staff user responsible for the case (read-only)"},
    )
    given_name = fields.String()
    family_name = fields.String()
    birth_date = fields.Date()
    country_of_origin = fields.String()
    languages = fields.List(fields.String())
    arrival_date = fields.Date()
    household = fields.Dict(allow_none=True)
    residence_status = fields.String(allow_none=True)
    course_obligation = fields.Boolean()
    course_obligation_imposed_by = fields.String(allow_none=True)
    health_notes = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ClientQuerySchema(PageQuerySchema):
    q = query_text(100, "search in given and family name")
    agreement_status = fields.String(
        validate=validate.OneOf(["none", "draft", "signed", "active", "closed"])
    )


class ClientPageSchema(Representation):
    items = fields.List(fields.Nested(ClientSchema))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()


class ConsentInputSchema(StrictSchema):
    recipient_kind = one_of(AgencyKind, required=True)
    purposes = fields.List(
        one_of(Purpose),
        required=True,
        validate=validate.Length(min=1, max=len(Purpose)),
        metadata={"uniqueItems": True},
    )
    data_categories = fields.List(
        one_of(DataCategory),
        required=True,
        validate=validate.Length(min=1, max=len(DataCategory)),
        metadata={"uniqueItems": True},
    )
    signed_at = aware_datetime(required=True, metadata={"description": "not in the future"})
    expires_at = aware_datetime(allow_none=True, metadata={"description": "after signed_at"})

    @validates_schema
    def period(self, data: dict[str, Any], **_: Any) -> None:
        from ..db import utcnow

        signed_at = data.get("signed_at")
        if signed_at and signed_at > utcnow():
            raise ValidationError("must not be in the future", "signed_at")
        expires_at = data.get("expires_at")
        if signed_at and expires_at and expires_at <= signed_at:
            raise ValidationError("must be after signed_at", "expires_at")
        for name in ("purposes", "data_categories"):
            values = data.get(name) or []
            if len(values) != len(set(values)):
                raise ValidationError("duplicates", name)


class ConsentSchema(Representation):
    id = fields.UUID()
    client_id = fields.UUID()
    recipient_kind = fields.String()
    purposes = fields.List(fields.String())
    data_categories = fields.List(fields.String())
    signed_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    special_categories = fields.Method("_special")

    def _special(self, consent: Any) -> list[str]:
        from ..models.vocabulary import SPECIAL_CATEGORIES

        return [c for c in consent.data_categories if c in SPECIAL_CATEGORIES]


class RevokeInputSchema(StrictSchema):
    revoked_at = aware_datetime(
        metadata={
            "description": "default: now; not in the future, not before the consent's signed_at"
        }
    )

    @validates_schema
    def not_in_future(self, data: dict[str, Any], **_: Any) -> None:
        from ..db import utcnow

        if data.get("revoked_at") and data["revoked_at"] > utcnow():
            raise ValidationError("must not be in the future", "revoked_at")


class AssessmentFieldSchema(StrictSchema):
    situation = text(4000, required=False, min_length=0)
    level = text(40, required=False)
    needs = fields.List(text(200), validate=validate.Length(max=30))
    notes = text(4000, required=False, min_length=0)


class AssessmentFieldsSchema(StrictSchema):
    language = fields.Nested(AssessmentFieldSchema)
    education = fields.Nested(AssessmentFieldSchema)
    work = fields.Nested(AssessmentFieldSchema)
    childcare = fields.Nested(AssessmentFieldSchema)
    recognition = fields.Nested(AssessmentFieldSchema)


class AssessmentInputSchema(StrictSchema):
    by_field = fields.Nested(
        AssessmentFieldsSchema,
        required=True,
        data_key="fields",
        metadata={"minProperties": 1, "description": "at least one field"},
    )

    @validates_schema
    def not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("by_field"):
            raise ValidationError("record at least one field", "fields")


class AssessmentSchema(Representation):
    id = fields.UUID()
    client_id = fields.UUID()
    by_field = fields.Dict(data_key="fields", attribute="fields")
    created_at = fields.DateTime()
    created_by = fields.String()
