"""What every contract is made of: strict schemas and the base class of payload contracts."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import RAISE, Schema, fields, validate

from tenants.text import safe_text


class StrictSchema(Schema):
    """Refuses unknown fields: a message carries exactly what its contract names."""

    class Meta:
        unknown = RAISE


class Contract(StrictSchema):
    """Base of payload schemas. ``personal_data``: the envelope must carry a consent id."""

    message_type: ClassVar[str]
    version: ClassVar[int]
    personal_data: ClassVar[bool] = False
    #: Personal data passed on by law rather than by consent (e.g. § 44a AufenthG notices):
    #: the payload names its legal basis and no consent id is required.
    by_law: ClassVar[bool] = False


def text_field(max_len: int, **kw: Any) -> fields.String:
    """A non-empty string of at most ``max_len`` characters that every store and channel can
    carry (no control characters or invalid Unicode: see ``tenants.text``)."""
    return fields.String(validate=[validate.Length(min=1, max=max_len), safe_text], **kw)


def referral_id_field() -> fields.UUID:
    """The referral a message is about (required)."""
    return fields.UUID(required=True)
