"""Appending messages to the transactional outbox.

An operation that changes state calls :func:`append` in the same session; the message is
published by :class:`messaging.relay.OutboxRelay` only after that transaction commits, so a
rolled-back change never sends anything and a committed one is never lost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from messaging import wakeups
from messaging.contracts import is_validated, validate_envelope
from messaging.envelope import Envelope
from messaging.store import OutboxMessage

_ADDED = "integra_outbox_added"
_APPENDED = "integra_outbox_appended"


def _wake_local_relay(session: Session) -> None:
    """After a commit that appended messages: the writer's process runs the tenant's relay
    job at once (``messaging.runtime``). A row no process picks up this way (the writer died
    right after its commit, or no relay runs in its process) waits for the outbox sweeper."""
    if session.info.pop(_APPENDED, False):
        wakeups.signal(relay_key(session.get_bind().engine))


def _forget_appended(session: Session) -> None:
    session.info.pop(_APPENDED, None)


def relay_key(engine: Engine) -> str:
    """What a relay listens on, and appends to its outbox signal, in this process: the
    tenant's schema on PostgreSQL (tenants share the engine's URL), else the database URL."""
    schema = getattr(engine, "schema", None)
    if schema:
        return f"{engine.url.render_as_string(hide_password=True)}#{schema}"
    return engine.url.render_as_string(hide_password=True)


def _assign_sequences(session: Session, _context: Any, _instances: Any) -> None:
    """Before a flush: number the new outbox rows per correlation, in the order they were added.

    One query for all correlations of the flush, so the rows can still be inserted in one batch.
    Two concurrent transactions on the same correlation collide on the unique constraint
    instead of interleaving.
    """
    pending = [
        obj for obj in session.new if isinstance(obj, OutboxMessage) and obj.sequence is None
    ]
    if not pending:
        return
    pending.sort(key=lambda row: session.info[_ADDED][id(row)])
    correlations = {row.correlation_id for row in pending}
    with session.no_autoflush:
        stored: dict[Any, int] = {
            correlation: last
            for correlation, last in session.execute(
                select(OutboxMessage.correlation_id, func.max(OutboxMessage.sequence))
                .where(OutboxMessage.correlation_id.in_(correlations))
                .group_by(OutboxMessage.correlation_id)
            )
        }
    for row in pending:
        row.sequence = stored[row.correlation_id] = (stored.get(row.correlation_id) or 0) + 1


def is_sequence_conflict(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the collision :func:`_assign_sequences` describes: another
    transaction numbered a message of the same correlation first. Trying again succeeds."""
    return "uq_outbox_messages_sequence" in str(exc.orig)


def append(session: Session, envelope: Envelope, *, encrypt: bool = False) -> OutboxMessage:
    """Add ``envelope`` to the outbox in the caller's transaction (no commit, no flush).

    The envelope is validated against its contract here (unless
    :func:`messaging.contracts.new_envelope` built and validated it), so an invalid message
    fails the operation that produced it instead of dead-lettering at the receiver.
    ``encrypt`` asks the relay to encrypt the payload to the recipient (JWE).
    """
    if not is_validated(envelope):
        validate_envelope(envelope)
    row = OutboxMessage(
        id=envelope.id,
        correlation_id=envelope.correlation_id,
        type=envelope.type,
        version=envelope.version,
        recipient=envelope.recipient,
        envelope=envelope.to_dict(),
        encrypt=encrypt,
        attempts=0,
    )
    added = session.info.get(_ADDED)
    if added is None:
        added = session.info[_ADDED] = {}
        event.listen(session, "before_flush", _assign_sequences)
        event.listen(session, "after_commit", _wake_local_relay)
        event.listen(session, "after_rollback", _forget_appended)
    session.info[_APPENDED] = True
    added[id(row)] = len(added)
    session.add(row)
    return row
