"""A connector: one per tenant and agency kind.

It consumes the messages the agreement service addresses to its agency kind, delivers them
through the agency's channel (in order per referral, retried with backoff, never after a
withdrawal or revocation, and a referral only while its consent is valid: checked right before
every attempt), and turns the agency's answers into canonical status messages for the
agreement service. Everything it sends to the bus goes through its own outbox; everything
it receives is recorded in its own inbox, in the same transaction as the effect.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from messaging import outbox
from messaging.contracts import ContractError, load_envelope, load_payload
from messaging.envelope import Envelope
from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.store import DeadLetter, InboxMessage, utcnow
from messaging.topology import AGREEMENTS
from tenants.registry import PartnerEntry, Tenant
from tenants.vocabulary import AGENCY_ANSWER_TYPES, FINAL_AGENCY_ANSWERS

from .channels.base import AgencyAnswer, Channel, DeliveryFailed, IntakeResult
from .store import AgencyDelivery, Delivery, RevokedConsent, TrackedReferral

log = logging.getLogger(__name__)

#: How often an answer is taken when concurrent commits about its referral collide with it.
INTAKE_ATTEMPTS = 5


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at 5 minutes."""
    return timedelta(seconds=min(300, 2 ** max(0, attempts - 1)))


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


def for_agency(envelope: Envelope) -> Envelope:
    """The form the agency receives. A referral request goes out as contract v1: the consent's
    end is for the connector to enforce, and partners keep the contract they implemented
    (their XML schema, their AMQP client) when the bus's contract gains a version."""
    if (envelope.type, envelope.version) != ("referral.requested", 2):
        return envelope
    payload = {k: v for k, v in envelope.payload.items() if k != "consent_expires_at"}
    return dataclasses.replace(envelope, version=1, payload=payload)


class Connector:
    def __init__(
        self,
        settings: Any,
        tenant: Tenant,
        partner: PartnerEntry,
        engine: Engine,
        channel: Channel,
        *,
        delay_threshold: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.partner = partner
        self.kind = partner.kind
        self.engine = engine
        self.channel = channel
        self.delay_threshold = delay_threshold
        self.clock = clock
        self.signer = EnvelopeSigner(BusKeyring.load(settings, tenant.slug))
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()

    # --- messages from the agreement service (consumer handlers) -----------------------------

    def register_handlers(self, consumer: Any) -> None:
        consumer.register("referral.requested", self.on_referral_requested)
        consumer.register("referral.withdrawn", self.on_referral_withdrawn)
        consumer.register("consent.revoked", self.on_consent_revoked)

    def _queue_for_agency(
        self, session: Session, envelope: Envelope, referral_id: uuid.UUID
    ) -> None:
        last = session.scalar(
            select(AgencyDelivery.sequence)
            .where(AgencyDelivery.referral_id == referral_id)
            .order_by(AgencyDelivery.sequence.desc())
            .limit(1)
        )
        session.add(
            AgencyDelivery(
                message_id=envelope.id,
                referral_id=referral_id,
                sequence=(last or 0) + 1,
                type=envelope.type,
                envelope=envelope.to_dict(),
                next_attempt_at=self.clock(),
            )
        )
        # Wake the delivery loop once this transaction is committed, not before.
        event.listen(session, "after_commit", lambda _s: self.wake_event.set(), once=True)

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
            received_at=self.clock(),
        )
        session.add(tracked)
        lapsed = self._consent_lapsed(
            session, envelope.consent_id, payload.get("consent_expires_at")
        )
        if lapsed is not None:
            # Not even kept for a later attempt: the data never enters the delivery queue.
            self._not_sent(session, tracked, lapsed)
            return
        self._queue_for_agency(session, envelope, referral_id)

    def _consent_lapsed(
        self, session: Session, consent_id: uuid.UUID, expires_at: datetime | None
    ) -> ConsentLapsed | None:
        """Why the consent no longer allows delivery, at this moment by the connector's clock
        (revocations are known from consent.revoked messages); None while it is valid."""
        revoked = session.get(RevokedConsent, consent_id)
        if revoked is not None:
            return ConsentLapsed.revoked(revoked.revoked_at)
        if expires_at is not None and self.clock() >= expires_at:
            return ConsentLapsed.expired(expires_at)
        return None

    def _not_sent(self, session: Session, tracked: TrackedReferral, lapsed: ConsentLapsed) -> None:
        """Close a referral the agency never received and tell the agreement service why, so
        the referral's history says it was not sent (delivery.failed v2)."""
        tracked.closed = True
        log.info("referral %s not sent: %s", tracked.referral_id, lapsed.reason)
        self._report(
            session,
            tracked.referral_id,
            "delivery.failed",
            {
                "referral_id": str(tracked.referral_id),
                "failed_at": self.clock().isoformat(),
                "reason_code": lapsed.reason_code,
                "reason": lapsed.reason,
            },
            version=2,
        )

    def _agency_has_request(self, session: Session, referral_id: uuid.UUID) -> bool:
        """Whether the agency took the referral request (so it must hear of its end)."""
        delivered = session.scalar(
            select(AgencyDelivery.message_id)
            .where(
                AgencyDelivery.referral_id == referral_id,
                AgencyDelivery.type == "referral.requested",
                AgencyDelivery.status == Delivery.DELIVERED,
            )
            .limit(1)
        )
        return delivered is not None

    def _cancel_pending(self, session: Session, referral_id: uuid.UUID) -> bool:
        """Cancel what the agency has not received; True if the request itself never left."""
        pending = list(
            session.scalars(
                select(AgencyDelivery).where(
                    AgencyDelivery.referral_id == referral_id,
                    AgencyDelivery.status == Delivery.PENDING,
                )
            )
        )
        for delivery in pending:
            delivery.status = Delivery.CANCELLED
        return any(d.type == "referral.requested" for d in pending)

    def on_referral_withdrawn(self, session: Session, envelope: Envelope) -> None:
        payload = load_payload(envelope)
        referral_id: uuid.UUID = payload["referral_id"]
        tracked = session.get(TrackedReferral, referral_id)
        if tracked is None:
            return  # never carried: nothing to withdraw at the agency
        tracked.closed = True
        if self._cancel_pending(session, referral_id):
            if payload["reason_code"] == "consent_revoked":
                self._not_sent(session, tracked, ConsentLapsed.revoked(payload["withdrawn_at"]))
        elif self._agency_has_request(session, referral_id):
            # Only an agency that took the referral hears of its withdrawal; one that never
            # got it (not sent for lack of consent, refused) learns nothing about it.
            self._queue_for_agency(session, envelope, referral_id)

    def on_consent_revoked(self, session: Session, envelope: Envelope) -> None:
        payload = load_payload(envelope)
        assert envelope.consent_id is not None
        if session.get(RevokedConsent, envelope.consent_id) is None:
            session.add(
                RevokedConsent(consent_id=envelope.consent_id, revoked_at=payload["revoked_at"])
            )
        referral_ids = []
        for tracked in session.scalars(
            select(TrackedReferral).where(TrackedReferral.consent_id == envelope.consent_id)
        ):
            if self._cancel_pending(session, tracked.referral_id):
                self._not_sent(session, tracked, ConsentLapsed.revoked(payload["revoked_at"]))
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
            self._queue_for_agency(session, envelope, envelope.correlation_id)

    # --- delivery to the agency --------------------------------------------------------------

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
                    AgencyDelivery.next_attempt_at <= self.clock(),
                    ~blocked,
                )
                .order_by(AgencyDelivery.created_at, AgencyDelivery.sequence)
                .limit(limit)
            )
        )

    def _report(
        self,
        session: Session,
        referral_id: uuid.UUID,
        message_type: str,
        payload: dict[str, Any],
        consent_id: uuid.UUID | None = None,
        version: int = 1,
    ) -> None:
        outbox.append(
            session,
            Envelope(
                type=message_type,
                version=version,
                tenant=self.tenant.slug,
                sender=self.kind,
                recipient=AGREEMENTS,
                correlation_id=referral_id,
                consent_id=consent_id,
                payload=payload,
            ),
        )

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
            if self.stop_event.is_set():
                break
            envelope = load_envelope(data)
            if envelope.type == "referral.requested":
                with Session(self.engine) as session:
                    current = session.get(AgencyDelivery, message_id)
                    if current is None or current.status != Delivery.PENDING:
                        continue  # withdrawn or revoked since the pass began
                    assert envelope.consent_id is not None  # the contract requires it
                    lapsed = self._consent_lapsed(
                        session,
                        envelope.consent_id,
                        load_payload(envelope).get("consent_expires_at"),
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
                if delivery is None or delivery.status != Delivery.PENDING:
                    continue  # cancelled meanwhile; if delivered anyway, the agency is told
                if isinstance(outcome, ConsentLapsed):
                    self._cancel_pending(session, delivery.referral_id)
                    tracked = session.get(TrackedReferral, delivery.referral_id)
                    if tracked is not None:
                        self._not_sent(session, tracked, outcome)
                    continue
                delivered += self._record_attempt(session, delivery, outcome)
        return delivered

    def _record_attempt(
        self, session: Session, delivery: AgencyDelivery, error: DeliveryFailed | None
    ) -> int:
        delivery.attempts += 1
        now = self.clock()
        if error is None:
            delivery.status = Delivery.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = None
            if delivery.type == "referral.requested":
                self._report(
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
            self._report(
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
            self._report(
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

    # --- answers from the agency -------------------------------------------------------------

    def intake(self, answer: AgencyAnswer) -> IntakeResult:
        """Turn one agency answer into a status message for the agreement service.

        Committed with the answer's id in the inbox: the same answer twice has one effect.
        An answer that arrives while the delivery loop commits a message about the same
        referral can collide with it on the outbox's numbering; it is taken again at once
        rather than failing the agency's request.
        """
        for attempt in range(1, INTAKE_ATTEMPTS + 1):
            try:
                return self._intake_once(answer)
            except IntegrityError as exc:
                if attempt == INTAKE_ATTEMPTS or not outbox.is_sequence_conflict(exc):
                    raise
                log.info("answer %s: outbox numbering conflict, again", answer.message_id)
        raise AssertionError("unreachable")

    def _intake_once(self, answer: AgencyAnswer) -> IntakeResult:
        with Session(self.engine) as session, session.begin():
            if session.get(InboxMessage, answer.message_id) is not None:
                return IntakeResult.duplicate()
            refusal = self._check_answer(session, answer)
            if refusal is not None:
                session.add(
                    DeadLetter(
                        message_id=answer.message_id,
                        consumer=f"agency.{self.kind}",
                        type=answer.type,
                        reason_code=refusal.reason_code or "refused",
                        reason_text=refusal.reason_text,
                    )
                )
                log.warning(
                    "answer %s from %s refused: %s",
                    answer.message_id,
                    self.kind,
                    refusal.reason_code,
                )
                return refusal
            referral_id = answer.payload.get("referral_id")
            tracked = (
                session.get(TrackedReferral, uuid.UUID(str(referral_id))) if referral_id else None
            )
            envelope = Envelope(
                id=answer.message_id,
                type=answer.type,
                version=answer.version,
                tenant=self.tenant.slug,
                sender=self.kind,
                recipient=AGREEMENTS,
                correlation_id=tracked.referral_id if tracked else answer.message_id,
                occurred_at=answer.occurred_at,
                consent_id=tracked.consent_id if tracked else None,
                payload=answer.payload,
            )
            if answer.type == "course_obligation.imposed":
                # An agency-initiated notice carries identity data by law (§ 44a), not by a
                # referral's consent: it names its own obligation id as consent reference.
                envelope = Envelope(**{**envelope.__dict__, "consent_id": answer.message_id})
            try:
                outbox.append(session, envelope)
            except ContractError as exc:
                session.rollback()
                return self._refuse_after_rollback(answer, exc.code, str(exc.detail))
            session.add(
                InboxMessage(
                    id=answer.message_id,
                    consumer=f"agency.{self.kind}",
                    type=answer.type,
                    correlation_id=envelope.correlation_id,
                )
            )
            if tracked is not None and answer.type in FINAL_AGENCY_ANSWERS:
                tracked.closed = True
        return IntakeResult.accepted()

    def _refuse_after_rollback(self, answer: AgencyAnswer, code: str, text: str) -> IntakeResult:
        with Session(self.engine) as session, session.begin():
            session.add(
                DeadLetter(
                    message_id=answer.message_id,
                    consumer=f"agency.{self.kind}",
                    type=answer.type,
                    reason_code=code,
                    reason_text=text[:2000],
                )
            )
        return IntakeResult.refused(code, text)

    def _check_answer(self, session: Session, answer: AgencyAnswer) -> IntakeResult | None:
        if answer.type not in AGENCY_ANSWER_TYPES:
            return IntakeResult.refused("unknown_type", f"{answer.type} is not an answer")
        if not AGENCY_ANSWER_TYPES[answer.type]:
            return None
        referral_id = answer.payload.get("referral_id")
        try:
            tracked = session.get(TrackedReferral, uuid.UUID(str(referral_id)))
        except ValueError:
            tracked = None
        if tracked is None:
            return IntakeResult.refused(
                "unknown_referral",
                f"no referral {referral_id} was sent to this {self.kind}",
            )
        return None

    def poll_answers(self, limit: int = 100) -> int:
        """Pull channels: take waiting answers, settle or refuse each. Returns accepted."""
        accepted = 0
        for answer in self.channel.receive(limit):
            result = self.intake(answer)
            if result.outcome == "refused":
                self.channel.refuse(
                    answer, result.reason_code or "refused", result.reason_text or ""
                )
            else:
                self.channel.settle(answer)
                accepted += result.outcome == "accepted"
        return accepted

    # --- running -----------------------------------------------------------------------------

    def run(self, poll_interval: float | None = None) -> None:
        """Deliver and poll until :meth:`stop`. Pull channels are polled every 0.1 s on a
        broker, every second on the embedded default (where every poll is a SQLite query)."""
        if poll_interval is None:
            poll_interval = 0.1 if self.settings.broker_url else 1.0
        while not self.stop_event.is_set():
            busy = 0
            try:
                busy += self.deliver_due()
                busy += self.poll_answers()
            except Exception:
                log.exception("connector %s/%s: pass failed", self.tenant.slug, self.kind)
            if not busy:
                self.wake_event.wait(poll_interval)
                self.wake_event.clear()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, name=f"connector-{self.tenant.slug}-{self.kind}", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()
