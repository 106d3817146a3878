"""A client's data access export (Art. 15 GDPR): everything the tenant stores about them.

Collected by following the schema rather than a hand-kept list: the client's row, every row
whose foreign key points at a row already collected (consents, assessments, agreements, their
goals, steps, reviews and review results, referrals and their history; whatever a later
migration adds with a foreign key), the audit entries about the case (who read or changed
what, when), the messages sent to partner agencies about the client's referrals (what left
the office, to whom), and the durations measured for the figures under the client's or the
referrals' ids (``figure_counts`` name no one and are not part of it). Every column of every
row, as stored. The export is itself audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from messaging.store import OutboxMessage

from ..db import Base, utcnow
from ..models import AuditEvent, Consent, FigureValue, Referral, ReferralEvent
from ..principal import Principal
from . import audit
from .scope import client_in_scope

#: Tables whose rows are about staff or the platform, never about a client.
NOT_ABOUT_CLIENTS = frozenset(
    {"users", "api_clients", "access_tokens", "staff_sessions", "oidc_authorization_codes",
     "login_failures", "offices", "retention_runs", "audit_events", "figure_counts"}
)  # fmt: skip


def plain(value: Any) -> Any:
    """A stored value as JSON: ids and timestamps as strings, the rest as it is."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _rows(session: Session, table: Any, column: str, ids: Iterable[Any]) -> list[dict[str, Any]]:
    wanted = list(ids)
    if not wanted:
        return []
    result = session.execute(select(table).where(table.c[column].in_(wanted)))
    return [dict(row) for row in result.mappings()]


def _collect_by_foreign_keys(session: Session, client_id: uuid.UUID) -> dict[str, list[dict]]:
    tables = {t.name: t for t in Base.metadata.sorted_tables if t.name not in NOT_ABOUT_CLIENTS}
    found: dict[str, list[dict[str, Any]]] = {
        "clients": _rows(session, tables["clients"], "id", [client_id])
    }
    changed = True
    while changed:  # a fixed point: rows pointing at collected rows, until nothing new
        changed = False
        for name, table in tables.items():
            for fk in table.foreign_keys:
                target = fk.column.table.name
                if target not in found or fk.parent.table is not table:
                    continue
                ids = {row[fk.column.name] for row in found[target]}
                known = {row["id"] for row in found.get(name, []) if "id" in row}
                new = [
                    row
                    for row in _rows(session, table, fk.parent.name, ids)
                    if row.get("id") not in known
                ]
                if new:
                    found.setdefault(name, []).extend(new)
                    changed = True
    return found


def _recipients(session: Session, referral_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Which agency received what about the client, and when it was sent."""
    if not referral_ids:
        return []
    rows = session.execute(
        select(Referral, Consent)
        .join(Consent, Referral.consent_id == Consent.id)
        .where(Referral.id.in_(referral_ids))
        .order_by(Referral.created_at)
    ).all()
    sent_at = dict(
        session.execute(
            select(ReferralEvent.referral_id, ReferralEvent.at)
            .where(ReferralEvent.referral_id.in_(referral_ids), ReferralEvent.status == "sent")
            .order_by(ReferralEvent.at.desc())
        ).all()
    )
    return [
        {
            "recipient_kind": referral.recipient_kind,
            "purpose": referral.purpose,
            "data_categories": list(consent.data_categories),
            "referral_id": str(referral.id),
            "sent_at": plain(sent_at.get(referral.id)),
            "status": referral.status,
        }
        for referral, consent in rows
    ]


def export_client_data(
    session: Session, principal: Principal, client_id: uuid.UUID
) -> dict[str, Any]:
    client = client_in_scope(session, principal, client_id)
    session.flush()
    found = _collect_by_foreign_keys(session, client.id)
    found["audit_events"] = [
        dict(row)
        for row in session.execute(
            select(AuditEvent.__table__)
            .where(AuditEvent.client_id == client.id)
            .order_by(AuditEvent.id)
        ).mappings()
    ]
    referral_ids = [row["id"] for row in found.get("referrals", [])]
    found["outbox_messages"] = _rows(
        session, OutboxMessage.__table__, "correlation_id", referral_ids
    )
    # the durations measured for the figures, by the client's and the referrals' ids
    found["figure_values"] = _rows(
        session, FigureValue.__table__, "subject_id", [client.id, *referral_ids]
    )
    audit.record(session, principal, "export", "client", client.id, client.id)
    return {
        "tenant": principal.tenant,
        "client_id": str(client.id),
        "generated_at": utcnow().isoformat(),
        "tables": {name: [plain(row) for row in rows] for name, rows in found.items()},
        "recipients": _recipients(session, referral_ids),
    }
