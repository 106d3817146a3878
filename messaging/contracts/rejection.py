"""Technical rejection: why a message was refused (the codes, the exception that carries one)
and the message that tells its sender, like XInneres' ReturnToSender."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from .base import Contract, text_field

#: Why a message was refused technically (message.rejected, dead-letter reasons).
REJECTION_CODES = (
    "malformed",
    "oversized",
    "invalid_signature",
    "unknown_key",
    "wrong_tenant",
    "wrong_recipient",
    "unknown_type",
    "schema_invalid",
    "consent_missing",
    "handler_failed",
    "unknown_referral",
    "wrong_agency",
    "unknown_client",
)


class ContractError(Exception):
    """A message breaks its contract; ``code`` is one of :data:`REJECTION_CODES`."""

    def __init__(self, code: str, detail: Any = None) -> None:
        super().__init__(f"{code}: {detail}" if detail is not None else code)
        self.code = code
        self.detail = detail


class MessageRejectedV1(Contract):
    """A technical rejection, like XInneres' ReturnToSender: which message, and why."""

    message_type = "message.rejected"
    version = 1

    rejected_message_id = fields.UUID(required=True)
    rejected_type = text_field(100, load_default=None, allow_none=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(REJECTION_CODES))
    reason_text = text_field(2000, load_default=None, allow_none=True)
