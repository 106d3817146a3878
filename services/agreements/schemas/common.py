from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from tenants.text import safe_text, sane_datetime


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


def text(max_length: int, *, required: bool = True, min_length: int = 1, **kw: Any) -> fields.Str:
    """Text of bounded length that every store and channel can carry (``tenants.text``)."""
    return fields.String(
        required=required,
        validate=[validate.Length(min=min_length, max=max_length), safe_text],
        **kw,
    )


def one_of(choices: Any, **kw: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([str(c) for c in choices]), **kw)


def today() -> date:
    return datetime.now(UTC).date()


def not_in_future(value: date) -> None:
    if value > today():
        raise ValidationError("must not be in the future")


def plausible_date(value: date) -> None:
    if value.year < 1900:
        raise ValidationError("must be after 1900")
    if value > today() + timedelta(days=3660):
        raise ValidationError("must be within the next ten years")


def aware_datetime(**kw: Any) -> fields.AwareDateTime:
    """Timestamps with an offset; a timestamp without one is read as UTC. Only between 1900
    and 2200 (others are typing errors, and some do not even convert to UTC)."""
    validators = kw.pop("validate", [])
    validators = validators if isinstance(validators, list) else [validators]
    return fields.AwareDateTime(default_timezone=UTC, validate=[sane_datetime, *validators], **kw)


class PageQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class MessageSchema(Schema):
    de = fields.String()
    en = fields.String()


class ApiErrorSchema(Schema):
    code = fields.String(metadata={"description": "machine-readable error code"})
    message = fields.Nested(MessageSchema)
    field_errors = fields.Dict(
        data_key="fields", metadata={"description": "errors by field, where input was invalid"}
    )
