"""Answer intake: an agency's answers become status messages for the agreement service.

An answer is taken once (its own id goes to the connector's inbox, in the transaction that puts
its status message in the outbox), and only if it answers a referral this connector carried
(or is an agency-initiated notice such as § 44a's ``course_obligation.imposed``); anything else
is refused and kept as a dead letter, and the channel tells the agency (return to sender).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from messaging import outbox
from messaging.contracts import ContractError
from messaging.envelope import Envelope
from messaging.store import DeadLetter, InboxMessage, utcnow
from messaging.topology import AGREEMENTS
from tenants.vocabulary import AGENCY_ANSWER_TYPES, FINAL_AGENCY_ANSWERS

from .channels.base import AgencyAnswer, Channel, IntakeResult
from .store import TrackedReferral

log = logging.getLogger(__name__)

#: How often an answer is taken when concurrent commits about its referral collide with it.
INTAKE_ATTEMPTS = 5


@dataclass(eq=False)
class AnswerIntake:
    """The answers of one tenant's agency of ``kind``: pushed by its callback (:meth:`intake`)
    or pulled from its channel (:meth:`poll_answers`)."""

    engine: Engine
    tenant_slug: str
    kind: str
    channel: Channel
    _: KW_ONLY
    clock: Callable[[], datetime] = utcnow

    @property
    def consumer(self) -> str:
        """The name its inbox entries and dead letters are kept under."""
        return f"agency.{self.kind}"

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
                    self._dead_letter(answer, refusal.reason_code or "refused", refusal.reason_text)
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
                tenant=self.tenant_slug,
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
                    consumer=self.consumer,
                    type=answer.type,
                    correlation_id=envelope.correlation_id,
                )
            )
            if tracked is not None:
                tracked.last_heard_at = self.clock()
                if answer.type in FINAL_AGENCY_ANSWERS:
                    tracked.closed = True
        return IntakeResult.accepted()

    def _refuse_after_rollback(self, answer: AgencyAnswer, code: str, text: str) -> IntakeResult:
        with Session(self.engine) as session, session.begin():
            session.add(self._dead_letter(answer, code, text[:2000]))
        return IntakeResult.refused(code, text)

    def _dead_letter(self, answer: AgencyAnswer, code: str, text: str | None) -> DeadLetter:
        """A refused answer, kept as this connector's dead letter (for ``integra dlq``)."""
        return DeadLetter(
            message_id=answer.message_id,
            consumer=self.consumer,
            type=answer.type,
            reason_code=code,
            reason_text=text,
        )

    def _check_answer(self, session: Session, answer: AgencyAnswer) -> IntakeResult | None:
        """Why the answer cannot be taken (not an agency's answer type, or about a referral
        this connector never carried); None if it can."""
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
