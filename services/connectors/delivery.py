"""The delivery loop: the connector's queue to its agency, with the consent gate.

Messages go out in order per referral, retried with backoff while the agency is unreachable,
never after a withdrawal or revocation. A referral request is checked against its consent right
before every attempt; a request whose consent has ended is never handed over, not even when the
agency is back: the referral is closed and reported not sent. A request that keeps failing is
reported delayed once (after ``delay_threshold``); one the agency refuses for good, failed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from datetime import timedelta

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.orm import Session, aliased

from messaging.contracts import load_envelope, load_payload
from messaging.envelope import Envelope
from messaging.signing import EnvelopeSigner

from .channels.base import Channel, DeliveryFailed
from .consent import ConsentLapsed, consent_lapsed
from .ledger import ConnectorLedger
from .store import AgencyDelivery, Delivery, RevokedConsent, TrackedReferral

log = logging.getLogger(__name__)


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at 5 minutes."""
    return timedelta(seconds=min(300, 2 ** max(0, attempts - 1)))


def for_agency(envelope: Envelope) -> Envelope:
    """The form the agency receives. A referral request goes out as contract v1: the consent's
    end is for the connector to enforce, and partners keep the contract they implemented
    (their XML schema, their AMQP client) when the bus's contract gains a version."""
    if (envelope.type, envelope.version) != ("referral.requested", 2):
        return envelope
    payload = {k: v for k, v in envelope.payload.items() if k != "consent_expires_at"}
    return dataclasses.replace(envelope, version=1, payload=payload)


@dataclasses.dataclass(eq=False)
class DeliveryLoop:
    """One connector's deliveries to its agency through ``channel``, signed with the tenant's
    bus key. ``stop`` ends a pass early (between two messages)."""

    engine: Engine
    channel: Channel
    ledger: ConnectorLedger
    signer: EnvelopeSigner
    _: dataclasses.KW_ONLY
    delay_threshold: timedelta
    stop: threading.Event

    def _due(self, session: Session, limit: int) -> list[AgencyDelivery]:
        earlier = aliased(AgencyDelivery)
        blocked = exists().where(
            earlier.referral_id == AgencyDelivery.referral_id,
            earlier.sequence < AgencyDelivery.sequence,
            earlier.status == Delivery.PENDING,
        )
        return list(
            session.scalars(
                select(AgencyDelivery)
                .where(
                    AgencyDelivery.status == Delivery.PENDING,
                    AgencyDelivery.next_attempt_at <= self.ledger.now(),
                    ~blocked,
                )
                .order_by(AgencyDelivery.created_at, AgencyDelivery.sequence)
                .limit(limit)
            )
        )

    def seconds_to_next(self) -> float | None:
        """Seconds until the earliest pending delivery is due (0 if one is due now); None if
        nothing is pending. What the shared timer waits for between retries."""
        with Session(self.engine) as session:
            earliest = session.scalar(
                select(func.min(AgencyDelivery.next_attempt_at)).where(
                    AgencyDelivery.status == Delivery.PENDING
                )
            )
        if earliest is None:
            return None
        return max(0.0, (earliest - self.ledger.now()).total_seconds())

    def deliver_due(self, limit: int = 200) -> int:
        """One pass over due deliveries; returns how many the agency took.

        Messages go out one by one (each channel says whether the agency took it); the
        outcomes of the pass are recorded in one transaction. A referral request is checked
        against its consent right before each attempt: the pass may be long (slow channels),
        and the request may have waited days for an unreachable agency.
        """
        with Session(self.engine) as session:
            due = [(d.message_id, d.envelope) for d in self._due(session, limit)]
        if not due:
            return 0
        outcomes: list[tuple[uuid.UUID, DeliveryFailed | ConsentLapsed | None]] = []
        for message_id, data in due:
            if self.stop.is_set():
                break
            envelope = load_envelope(data)
            if envelope.type == "referral.requested":
                with Session(self.engine) as session:
                    current = session.get(AgencyDelivery, message_id)
                    if current is None or current.status != Delivery.PENDING:
                        continue  # withdrawn or revoked since the pass began
                    assert envelope.consent_id is not None  # the contract requires it
                    lapsed = consent_lapsed(
                        session,
                        envelope.consent_id,
                        load_payload(envelope).get("consent_expires_at"),
                        self.ledger.now(),
                    )
                if lapsed is not None:
                    outcomes.append((message_id, lapsed))
                    continue
            error: DeliveryFailed | None = None
            try:
                agency_envelope = for_agency(envelope)
                self.channel.deliver(agency_envelope, self.signer.sign(agency_envelope))
            except DeliveryFailed as exc:
                error = exc
            except Exception as exc:  # a channel bug must not stop the other deliveries
                log.exception("channel %s failed on %s", self.channel.name, message_id)
                error = DeliveryFailed(f"{type(exc).__name__}: {exc}")
            outcomes.append((message_id, error))
        delivered = 0
        with Session(self.engine) as session, session.begin():
            for message_id, outcome in outcomes:
                delivery = session.get(AgencyDelivery, message_id, with_for_update=True)
                if delivery is None:
                    continue
                if delivery.status == Delivery.CANCELLED and outcome is None:
                    self._delivered_after_all(session, delivery)  # withdrawn during the call
                    continue
                if delivery.status != Delivery.PENDING:
                    continue
                if isinstance(outcome, ConsentLapsed):
                    self.ledger.cancel_pending(session, delivery.referral_id)
                    tracked = session.get(TrackedReferral, delivery.referral_id)
                    if tracked is not None:
                        self.ledger.not_sent(session, tracked, outcome)
                    continue
                delivered += self._record_attempt(session, delivery, outcome)
        return delivered

    def _delivered_after_all(self, session: Session, delivery: AgencyDelivery) -> None:
        """The agency took a referral request whose withdrawal (or consent revocation) came in
        while the channel was handing it over: the cancellation found it still pending, so
        nobody told the agency. Record the delivery and tell the agency now: the withdrawal,
        and the revocation when the consent was revoked (it must erase what it received)."""
        now = self.ledger.now()
        delivery.status = Delivery.DELIVERED
        delivery.delivered_at = now
        delivery.attempts += 1
        if delivery.type != "referral.requested":
            return
        tracked = session.get(TrackedReferral, delivery.referral_id)
        revoked = session.get(RevokedConsent, tracked.consent_id) if tracked else None
        log.warning(
            "referral %s reached the %s while it was withdrawn: telling the agency",
            delivery.referral_id,
            self.ledger.kind,
        )
        self.ledger.queue_for_agency(
            session,
            self.ledger.to_agency(
                "referral.withdrawn",
                delivery.referral_id,
                {
                    "referral_id": delivery.referral_id,
                    "withdrawn_at": now,
                    "reason_code": "consent_revoked" if revoked else "by_office",
                },
            ),
            delivery.referral_id,
        )
        if revoked is not None and tracked is not None:
            self.ledger.queue_for_agency(
                session,
                self.ledger.to_agency(
                    "consent.revoked",
                    delivery.referral_id,
                    {"revoked_at": revoked.revoked_at, "referral_ids": [delivery.referral_id]},
                    consent_id=tracked.consent_id,
                ),
                delivery.referral_id,
            )

    def _record_attempt(
        self, session: Session, delivery: AgencyDelivery, error: DeliveryFailed | None
    ) -> int:
        delivery.attempts += 1
        now = self.ledger.now()
        if error is None:
            delivery.status = Delivery.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = None
            if delivery.type == "referral.requested":
                self.ledger.report(
                    session,
                    delivery.referral_id,
                    "referral.delivered",
                    {
                        "referral_id": str(delivery.referral_id),
                        "delivered_at": now.isoformat(),
                        "channel": self.channel.name,
                    },
                )
            return 1
        delivery.last_error = error.reason[:2000]
        if not error.retryable:
            delivery.status = Delivery.FAILED
            self.ledger.report(
                session,
                delivery.referral_id,
                "delivery.failed",
                {
                    "referral_id": str(delivery.referral_id),
                    "failed_at": now.isoformat(),
                    "reason_code": "agency_refused",
                    "reason": error.reason[:2000],
                },
                version=2,
            )
            return 0
        delivery.next_attempt_at = now + backoff(delivery.attempts)
        if (
            delivery.delay_reported_at is None
            and now - delivery.created_at >= self.delay_threshold
            and delivery.type == "referral.requested"
        ):
            delivery.delay_reported_at = now
            self.ledger.report(
                session,
                delivery.referral_id,
                "delivery.delayed",
                {
                    "referral_id": str(delivery.referral_id),
                    "since": delivery.created_at.isoformat(),
                    "attempts": delivery.attempts,
                    "last_error": error.reason[:500],
                },
            )
        return 0
