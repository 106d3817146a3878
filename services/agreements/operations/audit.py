"""The append-only, hash-chained audit log of personal-data access."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import AuditEvent
from ..principal import Principal

GENESIS = "0" * 64
_PREV = "integra.audit_prev_hash"
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


def _previous_hash(session: Session) -> str:
    """The chain head, read once per transaction under a lock that serialises appends.

    The cached head is tied to the transaction it was read in: after a commit or rollback
    another writer may have extended the chain.
    """
    cached = session.info.get(_PREV)
    if cached is not None and cached[0] is session.get_transaction():
        return str(cached[1])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None,
    client_id: uuid.UUID | None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event (who, when, what, which case, which tenant)."""
    event = AuditEvent(
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
        prev_hash=_previous_hash(session),
    )
    event.hash = _digest(event)
    session.info[_PREV] = (session.get_transaction(), event.hash)
    session.add(event)
    return event


def record_reads(
    session: Session, principal: Principal, object_type: str, client_ids: Iterable[uuid.UUID]
) -> None:
    """One read event per case shown (a list page audits every case on it)."""
    for client_id in client_ids:
        record(session, principal, "read", object_type, client_id, client_id)


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """Walk the chain; returns (intact, id of the first broken event)."""
    previous = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != previous or _digest(event) != event.hash:
            return False, event.id
        previous = event.hash
    return True, None
