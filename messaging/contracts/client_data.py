"""The client's data a referral carries, by consented category (referral.requested)."""

from __future__ import annotations

from marshmallow import fields, validate

from .base import StrictSchema, text_field


class IdentitySchema(StrictSchema):
    given_name = text_field(200, required=True)
    family_name = text_field(200, required=True)
    birth_date = fields.Date(required=True)


class ContactSchema(StrictSchema):
    phone = text_field(50)
    email = fields.Email()
    address = text_field(300)


class ResidenceStatusSchema(StrictSchema):
    status = text_field(50, required=True)
    valid_until = fields.Date(allow_none=True)


class LanguageSchema(StrictSchema):
    language = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{2,3}$"))
    level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(("native", "A1", "A2", "B1", "B2", "C1", "C2")),
    )


def _free_category() -> fields.Dict:
    """Categories whose inner shape the agreement service owns; only the key set is fixed."""
    return fields.Dict(keys=fields.String(validate=validate.Length(max=100)))


class ClientDataSchema(StrictSchema):
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
