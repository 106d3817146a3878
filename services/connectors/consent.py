"""The consent gate: whether a client's consent still allows handing a referral to the agency.

Asked when a referral request arrives and again right before every delivery attempt, by the
connector's own clock: a request can wait long in the outbox, on the bus or for an unreachable
agency. A consent ends when it expires (``consent_expires_at`` of the request, contract v2) or
when the client revokes it (the connector knows from ``consent.revoked`` and records it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .store import RevokedConsent


@dataclass(frozen=True)
class ConsentLapsed:
    """The client's consent no longer allows handing the referral to the agency."""

    reason_code: str  # consent_expired | consent_revoked (delivery.failed v2)
    reason: str  # what lapsed when, e.g. "consent expired at 2026-11-08T23:00:00+00:00"

    @classmethod
    def revoked(cls, at: datetime) -> ConsentLapsed:
        return cls("consent_revoked", f"consent revoked at {at.isoformat()}")

    @classmethod
    def expired(cls, at: datetime) -> ConsentLapsed:
        return cls("consent_expired", f"consent expired at {at.isoformat()}")


def consent_lapsed(
    session: Session, consent_id: uuid.UUID, expires_at: datetime | None, now: datetime
) -> ConsentLapsed | None:
    """Why the consent no longer allows delivery at ``now`` (revocations are known from
    consent.revoked messages); None while it is valid."""
    revoked = session.get(RevokedConsent, consent_id)
    if revoked is not None:
        return ConsentLapsed.revoked(revoked.revoked_at)
    if expires_at is not None and now >= expires_at:
        return ConsentLapsed.expired(expires_at)
    return None


def record_revocation(session: Session, consent_id: uuid.UUID, revoked_at: datetime) -> None:
    """Remember a revoked consent (once), so that nothing under it is delivered any more."""
    if session.get(RevokedConsent, consent_id) is None:
        session.add(RevokedConsent(consent_id=consent_id, revoked_at=revoked_at))
