from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from tenants.text import safe_text, sane_datetime


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


#: What ``tenants.text`` refuses in text, as a JSON Schema pattern for the document: C0
#: controls but tab, line feed and carriage return; DEL and the C1 controls; the
#: non-characters U+FFFE and U+FFFF. (Lone surrogates, refused too, are not text in UTF-8.)
SAFE_TEXT_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]*$"
#: The same for one line (a query parameter): no tab or line break either.
SAFE_LINE_PATTERN = r"^[^\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF]*$"


def text(max_length: int, *, required: bool = True, min_length: int = 1, **kw: Any) -> fields.Str:
    """Text of bounded length that every store and channel can carry (``tenants.text``)."""
    metadata = {"pattern": SAFE_TEXT_PATTERN, **kw.pop("metadata", {})}
    return fields.String(
        required=required,
        validate=[validate.Length(min=min_length, max=max_length), safe_text],
        metadata=metadata,
        **kw,
    )


def query_text(max_length: int, description: str) -> fields.Str:
    """A free-text query parameter (``has_unsafe_line`` refuses what the pattern excludes)."""
    return fields.String(
        validate=validate.Length(min=1, max=max_length),
        metadata={"description": description, "pattern": SAFE_LINE_PATTERN},
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


#: The document's words for the date rules above: JSON Schema has no bounds for dates.
DATE_RULES: dict[Callable[[date], None], str] = {
    not_in_future: "not in the future",
    plausible_date: "from 1900 to ten years ahead",
}
SANE_TIMESTAMP = "between 1900 and 2200; without an offset it is read as UTC"


def date_field(*rules: Callable[[date], None], description: str = "", **kw: Any) -> fields.Date:
    """A date checked by ``rules``, which the document states in words."""
    said = "; ".join(filter(None, (description, *(DATE_RULES[rule] for rule in rules))))
    return fields.Date(validate=list(rules), metadata={"description": said}, **kw)


def aware_datetime(**kw: Any) -> fields.AwareDateTime:
    """Timestamps with an offset; a timestamp without one is read as UTC. Only between 1900
    and 2200 (others are typing errors, and some do not even convert to UTC)."""
    validators = kw.pop("validate", [])
    validators = validators if isinstance(validators, list) else [validators]
    metadata = kw.pop("metadata", {})
    said = "; ".join(filter(None, (metadata.pop("description", ""), SANE_TIMESTAMP)))
    return fields.AwareDateTime(
        default_timezone=UTC,
        validate=[sane_datetime, *validators],
        metadata={**metadata, "description": said},
        **kw,
    )


class Representation(Schema):
    """What the API answers with: dumped, never loaded. The document lists each of its fields
    as always present (``required``; ``null`` only where ``allow_none`` says) and no other
    field (``additionalProperties: false``), so clients may rely on the shape, and the fuzz
    run (tests/integration/test_api_fuzz.py) holds every answer to it."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.required = True


class PageQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class MessageSchema(Schema):
    # Documentation only (``required``, ``unknown``): the API dumps these, never loads them.
    class Meta:
        unknown = RAISE

    de = fields.String(required=True)
    en = fields.String(required=True)


class ApiErrorSchema(Schema):
    """Every error answer: a machine code, a German and an English message, and, where input
    was invalid, the problems by field."""

    class Meta:
        unknown = RAISE

    code = fields.String(required=True, metadata={"description": "machine-readable error code"})
    message = fields.Nested(MessageSchema, required=True)
    field_errors = fields.Dict(
        data_key="fields", metadata={"description": "errors by field, where input was invalid"}
    )
