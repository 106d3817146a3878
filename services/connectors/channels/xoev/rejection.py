"""The technical rejection: ``message.rejected`` as ``administration.ReturnToSender.0901``.

In the style of XInneres' ``Administration.ReturnToSender``: a faulty message is answered with
its id and type, a reason code from :data:`~messaging.contracts.REJECTION_CODES` and a text.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from messaging.contracts import ContractError, dump_payload
from messaging.envelope import Envelope

from .document import envelope_to_xml
from .errors import XmlChannelError
from .header import Authority


def rejection_envelope(
    original_id: uuid.UUID,
    original_type: str | None,
    reason_code: str,
    reason_text: str | None,
    *,
    tenant: str,
    sender: str,
    recipient: str,
    correlation_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """The ``message.rejected`` envelope of a technical rejection (see :func:`return_to_sender`)."""
    try:
        payload = dump_payload(
            "message.rejected",
            1,
            {
                "rejected_message_id": original_id,
                "rejected_type": original_type[:100] if original_type else None,
                "reason_code": reason_code,
                "reason_text": reason_text[:2000] if reason_text else None,
            },
        )
    except ContractError as exc:
        raise XmlChannelError(exc.code, f"return to sender: {exc.detail}") from exc
    return Envelope(
        type="message.rejected",
        version=1,
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        correlation_id=correlation_id or original_id,
        causation_id=original_id,
        payload=payload,
        id=message_id or uuid.uuid4(),
        occurred_at=occurred_at or datetime.now(UTC),
    )


def return_to_sender(
    original_id: uuid.UUID,
    original_type: str | None,
    reason_code: str,
    reason_text: str | None,
    *,
    tenant: str,
    sender: str,
    recipient: str,
    sender_authority: Authority,
    recipient_authority: Authority,
    correlation_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """A technical rejection of a received message (``administration.ReturnToSender.0901``).

    It is the ``message.rejected`` contract in XML: the original message's id and type, a reason
    code from :data:`~messaging.contracts.REJECTION_CODES` and a text (cut to 2000 characters).
    ``sender``/``recipient`` are the parties (we, and the author of the faulty message);
    ``correlation_id`` defaults to the original id when the conversation is unknown. Read back
    with :func:`xml_to_envelope`, it is a ``message.rejected`` envelope caused by the original.
    """
    envelope = rejection_envelope(
        original_id,
        original_type,
        reason_code,
        reason_text,
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        correlation_id=correlation_id,
        message_id=message_id,
        occurred_at=occurred_at,
    )
    return envelope_to_xml(
        envelope, sender_authority=sender_authority, recipient_authority=recipient_authority
    )
