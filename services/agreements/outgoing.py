"""Messages the agreement service sends, appended to the outbox in the operation's own
transaction: a referral and its changes reach the agency exactly when they are committed.

A referral carries only the data categories the client consented to for that agency kind
(data minimisation happens here, at the source, and the connector checks again); it also
carries the consent's end, which the connector checks before every delivery attempt.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from messaging import outbox
from messaging.contracts import dump_payload
from messaging.envelope import Envelope
from messaging.topology import AGREEMENTS

from .models import Agreement, Assessment, Client, Consent, Referral, Step
from .models.vocabulary import AgreementStatus, ReferralStatus


def _tenant(session: Session) -> str:
    tenant: str = session.info["tenant"]
    return tenant


def _latest_assessment(session: Session, client_id: uuid.UUID) -> dict[str, Any]:
    assessment = session.scalar(
        select(Assessment)
        .where(Assessment.client_id == client_id)
        .order_by(Assessment.created_at.desc())
        .limit(1)
    )
    return dict(assessment.fields) if assessment else {}


def _active_goals(session: Session, client_id: uuid.UUID) -> dict[str, Any]:
    agreement = session.scalar(
        select(Agreement).where(
            Agreement.client_id == client_id, Agreement.status == AgreementStatus.ACTIVE
        )
    )
    if agreement is None:
        return {}
    return {
        "goals": [
            {"field": g.field, "target": g.target, "due_date": g.due_date.isoformat()}
            for g in agreement.goals
        ]
    }


def client_data(session: Session, client: Client, categories: list[str]) -> dict[str, Any]:
    """The client's data, restricted to ``categories``: nothing else leaves the service."""
    assessment = _latest_assessment(session, client.id)
    available: dict[str, Any] = {
        "identity": lambda: {
            "given_name": client.given_name,
            "family_name": client.family_name,
            "birth_date": client.birth_date,
        },
        "contact": dict,
        "residence_status": lambda: {"status": client.residence_status or "unknown"},
        "languages": lambda: [{"language": code} for code in client.languages],
        "education": lambda: assessment.get("education", {}),
        "work_history": lambda: assessment.get("work", {}),
        "qualifications": lambda: assessment.get("recognition", {}),
        "family": lambda: dict(client.household or {}),
        "health": lambda: {"notes": client.health_notes} if client.health_notes else {},
        "assessment": lambda: assessment,
        "agreement_goals": lambda: _active_goals(session, client.id),
    }
    return {category: available[category]() for category in categories}


def _append(
    session: Session,
    referral: Referral,
    message_type: str,
    payload: dict[str, Any],
    *,
    consent_id: uuid.UUID | None = None,
    version: int = 1,
) -> Envelope:
    envelope = Envelope(
        type=message_type,
        version=version,
        tenant=_tenant(session),
        sender=AGREEMENTS,
        recipient=referral.recipient_kind,
        correlation_id=referral.id,
        consent_id=consent_id,
        payload=dump_payload(message_type, version, payload),
    )
    outbox.append(session, envelope)
    return envelope


def referral_requested(session: Session, referral: Referral) -> Envelope:
    """The referral with the consented data and the consent's end (contract v2): the
    connector hands it over only while the consent is valid, however long delivery takes."""
    client = session.get(Client, referral.client_id)
    consent = session.get(Consent, referral.consent_id)
    assert client is not None and consent is not None
    step = session.get(Step, referral.step_id) if referral.step_id else None
    categories = list(consent.data_categories)
    return _append(
        session,
        referral,
        "referral.requested",
        {
            "referral_id": referral.id,
            "data_categories": categories,
            "client": client_data(session, client, categories),
            "purpose": referral.purpose,
            "step": {"description": step.description, "due_date": step.due_date} if step else None,
            "note": referral.note or None,
            "consent_expires_at": consent.expires_at,
        },
        consent_id=consent.id,
        version=2,
    )


def referral_withdrawn(
    session: Session, referral: Referral, at: datetime, reason_code: str
) -> Envelope:
    return _append(
        session,
        referral,
        "referral.withdrawn",
        {"referral_id": referral.id, "withdrawn_at": at, "reason_code": reason_code},
    )


def consent_revoked(
    session: Session, consent: Consent, referrals: list[Referral], at: datetime
) -> list[Envelope]:
    """Tell each agency that had referrals under this consent to erase what it received."""
    sent = []
    by_kind: dict[str, list[Referral]] = {}
    for referral in referrals:
        by_kind.setdefault(referral.recipient_kind, []).append(referral)
    for kind_referrals in by_kind.values():
        first = kind_referrals[0]
        sent.append(
            _append(
                session,
                first,
                "consent.revoked",
                {"revoked_at": at, "referral_ids": [r.id for r in kind_referrals]},
                consent_id=consent.id,
            )
        )
    return sent


#: Statuses whose change the agency must hear about from the office.
OFFICE_INITIATED = {
    ReferralStatus.WITHDRAWN: "by_office",
    ReferralStatus.REVOKED: "consent_revoked",
}
