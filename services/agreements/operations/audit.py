"""The append-only, hash-chained audit log of personal-data access."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import AuditEvent
from ..principal import Principal

GENESIS = "0" * 64
_PENDING = "integra.audit_pending"
#: Any constant; serialises appends to one tenant's chain on PostgreSQL.
_ADVISORY_LOCK_KEY = 0x41554449  # "AUDI"; must differ from the relay lock (messaging.relay)


def _digest(event: AuditEvent) -> str:
    content = {
        "at": event.at.isoformat(),
        "tenant": event.tenant,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "office_id": str(event.office_id) if event.office_id else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "client_id": str(event.client_id) if event.client_id else None,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: Every column but the identity.
_COLUMNS = tuple(c.key for c in AuditEvent.__table__.columns if c.key != "id")


def _chain_head(session: Session) -> str:
    """The chain's last hash, under a lock that serialises appends until this commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def _pending(session: Session) -> list[AuditEvent]:
    pending: list[AuditEvent] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "before_commit", _chain_pending)
        event.listen(session, "after_rollback", _drop_pending)
    return pending


def _chain_pending(session: Session) -> None:
    """Link this transaction's events to the chain and add them, just before the commit.

    The chain's lock is taken here, at the end, not when the first event is recorded: it is
    held for the head query, the insert and the commit only, so requests that read case data
    (and so append read events) run side by side instead of one after another.
    """
    pending = session.info.get(_PENDING)
    if not pending:
        return
    previous = _chain_head(session)
    rows = []
    for entry in pending:
        entry.prev_hash = previous
        entry.hash = previous = _digest(entry)
        rows.append({column: getattr(entry, column) for column in _COLUMNS})
    pending.clear()
    # a plain multi-row insert (the ids come from the identity column in this order); the
    # ORM's unit of work would cost more than the rest of a list page's audit
    session.execute(insert(AuditEvent), rows)


def _drop_pending(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        pending.clear()  # the change they describe was rolled back too


def record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None,
    client_id: uuid.UUID | None,
    **detail: Any,
) -> AuditEvent:
    """Record one audit event (who, when, what, which case, which tenant).

    The event is chained and written when the transaction commits, with the change it
    describes; a rolled-back transaction leaves neither. The returned object is not itself
    added to the session (the rows are inserted in one statement at commit).
    """
    entry = AuditEvent(
        at=utcnow(),
        tenant=principal.tenant,
        actor=principal.actor,
        actor_role=str(principal.role),
        office_id=principal.office_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        client_id=client_id,
        detail=detail,
    )
    _pending(session).append(entry)
    return entry


def record_reads(
    session: Session, principal: Principal, object_type: str, client_ids: Iterable[uuid.UUID]
) -> None:
    """One read event per case shown (a list page audits every case on it)."""
    for client_id in client_ids:
        record(session, principal, "read", object_type, client_id, client_id)


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """Walk the chain; returns (intact, id of the first broken event)."""
    previous = GENESIS
    for entry in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if entry.prev_hash != previous or _digest(entry) != entry.hash:
            return False, entry.id
        previous = entry.hash
    return True, None
