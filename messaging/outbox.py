"""Appending messages to the transactional outbox.

An operation that changes state calls :func:`append` in the same session; the message is
published by :class:`messaging.relay.OutboxRelay` only after that transaction commits, so a
rolled-back change never sends anything and a committed one is never lost.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from messaging.contracts import validate_envelope
from messaging.envelope import Envelope
from messaging.store import OutboxMessage

#: PostgreSQL channel the relay LISTENs on; NOTIFY fires on commit only.
NOTIFY_CHANNEL = "integra_outbox"
_NOTIFIED = "integra_outbox_notified"


def _next_sequence(session: Session, envelope: Envelope) -> int:
    pending = [
        obj.sequence
        for obj in session.new
        if isinstance(obj, OutboxMessage) and obj.correlation_id == envelope.correlation_id
    ]
    with session.no_autoflush:
        stored = session.scalar(
            select(func.max(OutboxMessage.sequence)).where(
                OutboxMessage.correlation_id == envelope.correlation_id
            )
        )
    return max([stored or 0, *pending]) + 1


def append(session: Session, envelope: Envelope, *, encrypt: bool = False) -> OutboxMessage:
    """Add ``envelope`` to the outbox in the caller's transaction (no commit, no flush).

    The envelope is validated against its contract here, so an invalid message fails the
    operation that produced it instead of dead-lettering at the receiver. ``encrypt`` asks the
    relay to encrypt the payload to the recipient (JWE).
    """
    validate_envelope(envelope)
    row = OutboxMessage(
        id=envelope.id,
        correlation_id=envelope.correlation_id,
        sequence=_next_sequence(session, envelope),
        type=envelope.type,
        version=envelope.version,
        recipient=envelope.recipient,
        envelope=envelope.to_dict(),
        encrypt=encrypt,
        attempts=0,
    )
    session.add(row)
    _notify_once(session)
    return row


def _notify_once(session: Session) -> None:
    """Wake the relay on commit (PostgreSQL); once per transaction is enough."""
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    marker = id(transaction)
    if session.info.get(_NOTIFIED) == marker:
        return
    session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    session.info[_NOTIFIED] = marker
