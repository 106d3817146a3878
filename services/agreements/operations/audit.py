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


def _digest(event: AuditEvent | dict[str, Any]) -> str:
    """The event's hash: SHA-256 of its canonical JSON (content and previous hash)."""
    values = event if isinstance(event, dict) else {c: getattr(event, c) for c in _COLUMNS}
    content = {
        "at": values["at"].isoformat(),
        "tenant": values["tenant"],
        "actor": values["actor"],
        "actor_role": values["actor_role"],
        "office_id": str(values["office_id"]) if values["office_id"] else None,
        "action": values["action"],
        "object_type": values["object_type"],
        "object_id": values["object_id"],
        "client_id": str(values["client_id"]) if values["client_id"] else None,
        "detail": values["detail"],
        "prev_hash": values["prev_hash"],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: Every column but the identity.
_COLUMNS = tuple(c.key for c in AuditEvent.__table__.columns if c.key != "id")

#: PostgreSQL: a transaction's events in one statement with one parameter (a JSON array),
#: in order, so the identity column numbers them as chained. A list page writes 25 events:
#: as an executemany they cost more Python than the rest of the page's audit together.
_INSERT_FROM_JSON = text(
    "INSERT INTO audit_events (at, tenant, actor, actor_role, office_id, action, object_type, "
    "object_id, client_id, detail, prev_hash, hash) "
    "SELECT p.at, p.tenant, p.actor, p.actor_role, p.office_id, p.action, p.object_type, "
    "p.object_id, p.client_id, p.detail, p.prev_hash, p.hash "
    "FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS e(item, n), "
    "jsonb_populate_record(NULL::audit_events, e.item) AS p ORDER BY e.n"
)


def lock_for_commit(session: Session) -> None:
    """The lock that serialises the end of writing transactions on PostgreSQL, held until
    the commit. Whatever else a transaction locks just before its commit (the figures'
    running counts) takes this first, so two transactions never wait for each other's
    locks in opposite orders. Taking it again in the same transaction is free."""
    if session.get_bind().dialect.name == "postgresql":
        # per tenant: tenants share a database (a schema each), and one tenant's commits
        # must not wait for another's
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
            {"k": _ADVISORY_LOCK_KEY},
        )


def _chain_head(session: Session) -> str:
    """The chain's last hash, under a lock that serialises appends until this commit."""
    lock_for_commit(session)
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def _pending(session: Session) -> list[dict[str, Any]]:
    pending: list[dict[str, Any]] | None = session.info.get(_PENDING)
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
    rows = pending.copy()
    pending.clear()
    for row in rows:
        row["prev_hash"] = previous
        row["hash"] = previous = _digest(row)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_INSERT_FROM_JSON, {"rows": json.dumps(rows, default=str)})
    else:
        # a plain multi-row insert (the ids come from the identity column in this order)
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
) -> None:
    """Record one audit event (who, when, what, which case, which tenant).

    The event is chained and written when the transaction commits, with the change it
    describes; a rolled-back transaction leaves neither. Until then it is a plain row (no
    ORM object: a list page records 25).
    """
    _pending(session).append(
        {
            "at": utcnow(),
            "tenant": principal.tenant,
            "actor": principal.actor,
            "actor_role": str(principal.role),
            "office_id": principal.office_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id) if object_id is not None else None,
            "client_id": client_id,
            "detail": detail,
        }
    )


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
