"""Taking referrals from the bus: what the agreement service tells a connector.

``referral.requested`` is tracked and queued for the agency (unless its consent has already
ended: then the data never enters the queue); ``referral.withdrawn`` and ``consent.revoked``
cancel what has not left and, for what the agency already took, queue the message that tells it
to stop (and erase). Each handler runs in the consumer's transaction, with the message id
recorded in the inbox.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from messaging.contracts import load_payload
from messaging.envelope import Envelope

from .consent import ConsentLapsed, consent_lapsed, record_revocation
from .ledger import ConnectorLedger
from .store import AgencyDelivery, Delivery, TrackedReferral


class ReferralHandlers:
    """The consumer handlers of one connector."""

    def __init__(self, ledger: ConnectorLedger) -> None:
        self.ledger = ledger

    def register(self, consumer: Any) -> None:
        consumer.register("referral.requested", self.on_referral_requested)
        consumer.register("referral.withdrawn", self.on_referral_withdrawn)
        consumer.register("consent.revoked", self.on_consent_revoked)

    def on_referral_requested(self, session: Session, envelope: Envelope) -> None:
        payload = load_payload(envelope)
        assert envelope.consent_id is not None  # the contract requires it
        referral_id: uuid.UUID = payload["referral_id"]
        if session.get(TrackedReferral, referral_id) is not None:
            return  # the same referral requested twice: already carried
        tracked = TrackedReferral(
            referral_id=referral_id,
            consent_id=envelope.consent_id,
            purpose=payload["purpose"],
            received_at=self.ledger.now(),
        )
        session.add(tracked)
        lapsed = consent_lapsed(
            session, envelope.consent_id, payload.get("consent_expires_at"), self.ledger.now()
        )
        if lapsed is not None:
            # Not even kept for a later attempt: the data never enters the delivery queue.
            self.ledger.not_sent(session, tracked, lapsed)
            return
        self.ledger.queue_for_agency(session, envelope, referral_id)

    def on_referral_withdrawn(self, session: Session, envelope: Envelope) -> None:
        payload = load_payload(envelope)
        referral_id: uuid.UUID = payload["referral_id"]
        tracked = session.get(TrackedReferral, referral_id)
        if tracked is None:
            return  # never carried: nothing to withdraw at the agency
        tracked.closed = True
        if self.ledger.cancel_pending(session, referral_id):
            if payload["reason_code"] == "consent_revoked":
                lapsed = ConsentLapsed.revoked(payload["withdrawn_at"])
                self.ledger.not_sent(session, tracked, lapsed)
        elif self.ledger.agency_has_request(session, referral_id):
            # Only an agency that took the referral hears of its withdrawal; one that never
            # got it (not sent for lack of consent, refused) learns nothing about it.
            self.ledger.queue_for_agency(session, envelope, referral_id)

    def on_consent_revoked(self, session: Session, envelope: Envelope) -> None:
        payload = load_payload(envelope)
        assert envelope.consent_id is not None
        record_revocation(session, envelope.consent_id, payload["revoked_at"])
        referral_ids = []
        for tracked in session.scalars(
            select(TrackedReferral).where(TrackedReferral.consent_id == envelope.consent_id)
        ):
            if self.ledger.cancel_pending(session, tracked.referral_id):
                lapsed = ConsentLapsed.revoked(payload["revoked_at"])
                self.ledger.not_sent(session, tracked, lapsed)
            tracked.closed = True
            referral_ids.append(tracked.referral_id)
        delivered_any = referral_ids and session.scalar(
            select(AgencyDelivery.message_id)
            .where(
                AgencyDelivery.referral_id.in_(referral_ids),
                AgencyDelivery.status == Delivery.DELIVERED,
            )
            .limit(1)
        )
        if delivered_any:
            # The agency received data under this consent: it must erase it.
            self.ledger.queue_for_agency(session, envelope, envelope.correlation_id)
