"""Messages the agreement service receives: the agencies' status answers.

Each handler runs inside the consumer's transaction (with the inbox record) and changes the
referral only through ``operations.referral_history.apply_agency_status`` — the same rules the API
follows — so a status from the bus and a withdrawal by the office share one history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from messaging.contracts import ContractError, load_payload
from messaging.envelope import Envelope

from .models import Referral
from .models.vocabulary import ReferralStatus, Role
from .operations.clients import record_course_obligation
from .operations.referral_history import (
    apply_agency_status,
    note_delivery_problem,
    note_late_answer,
    note_status_answer,
    transition_allowed,
)
from .principal import Principal

#: message type → (referral status, payload field with the agency's timestamp)
STATUS_MESSAGES: dict[str, tuple[ReferralStatus, str]] = {
    "referral.received": (ReferralStatus.RECEIVED, "received_at"),
    "referral.accepted": (ReferralStatus.ACCEPTED, "accepted_at"),
    "referral.rejected": (ReferralStatus.REJECTED, "rejected_at"),
    "appointment.scheduled": (ReferralStatus.SCHEDULED, "starts_at"),
    "measure.started": (ReferralStatus.STARTED, "started_at"),
    "measure.completed": (ReferralStatus.COMPLETED, "completed_at"),
    "measure.aborted": (ReferralStatus.ABORTED, "aborted_at"),
    "referral.delivered": (ReferralStatus.SENT, "delivered_at"),
}

#: Statuses only the agency can report (its own answers and a status answer may set them);
#: withdrawn and revoked are the office's to set.
AGENCY_STATUSES = {
    status.value: status
    for status, _ in STATUS_MESSAGES.values()
    if status is not ReferralStatus.SENT  # the connector's delivery notice, not the agency's
}

#: Delivery problems a connector reports: shown in the history, status unchanged.
DELIVERY_PROBLEMS = {"delivery.delayed": "since", "delivery.failed": "failed_at"}


class AnswerRefused(ContractError):
    """An agency's answer that can never take effect (unknown referral, wrong agency): the
    consumer sends it to the dead letters at once, with this code, and audits it."""

    def __init__(self, code: str, de: str, en: str) -> None:
        super().__init__(code, en)
        self.de = de
        self.en = en


def agency_principal(envelope: Envelope) -> Principal:
    """Who acts when an agency's message changes a case: the agency, through the bus."""
    return Principal(f"agency:{envelope.sender}", Role.SERVICE, envelope.tenant)


def _note(message_type: str, payload: dict[str, Any]) -> str:
    if message_type == "appointment.scheduled":
        where = f" ({payload['location']})" if payload.get("location") else ""
        return f"Termin {payload['starts_at'].isoformat()}{where}"
    if message_type == "measure.started":
        return str(payload["measure"]["name"])
    return str(payload.get("note") or payload.get("reason_text") or payload.get("result") or "")


def _referral_for(session: Session, envelope: Envelope, referral_id: uuid.UUID) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None or referral.id != envelope.correlation_id:
        raise AnswerRefused(
            "unknown_referral",
            "Antwort zu einer unbekannten Weiterleitung.",
            f"Answer for an unknown referral {referral_id}.",
        )
    if referral.recipient_kind != envelope.sender:
        raise AnswerRefused(
            "wrong_agency",
            "Antwort von einer Stelle, an die nicht weitergeleitet wurde.",
            f"Answer from {envelope.sender}, but the referral went to {referral.recipient_kind}.",
        )
    return referral


def handle_status(session: Session, envelope: Envelope) -> None:
    """Apply one status answer to its referral."""
    status, time_field = STATUS_MESSAGES[envelope.type]
    payload = load_payload(envelope)
    referral = _referral_for(session, envelope, payload["referral_id"])
    if status == ReferralStatus.SENT and referral.status != ReferralStatus.REQUESTED:
        # The connector's delivery notice can arrive after the agency's first answer (both
        # race through different outboxes); any later status already implies "sent".
        return
    at: datetime = payload[time_field] if time_field != "starts_at" else envelope.occurred_at
    if not transition_allowed(ReferralStatus(referral.status), status):
        # Late or out of order (a "received" after "completed", an answer after a
        # withdrawal): kept in the history with its time, the status never moves back, and
        # nothing is dead-lettered for it.
        note_late_answer(
            session,
            referral.id,
            status,
            at=at,
            message_id=envelope.id,
            note=_note(envelope.type, payload),
        )
        return
    apply_agency_status(
        session,
        referral.id,
        status,
        at=at,
        message_id=envelope.id,
        reason_code=payload.get("reason_code"),
        note=_note(envelope.type, payload),
        agency=agency_principal(envelope),
    )


def handle_delivery_problem(session: Session, envelope: Envelope) -> None:
    """A connector reports a delayed delivery, or one that will never happen and why (the
    agency refused it, or the consent expired or was revoked before the agency took it)."""
    payload = load_payload(envelope)
    referral = _referral_for(session, envelope, payload["referral_id"])
    reason_code = envelope.type.replace(".", "_")
    if envelope.type == "delivery.delayed":
        note = (
            f"Zustellung verzögert seit {payload['since'].isoformat()}, "
            f"{payload['attempts']} Versuche: {payload.get('last_error') or ''}"
        )
    elif payload.get("reason_code", "agency_refused") == "agency_refused":  # v1: always
        note = f"Zustellung gescheitert: {payload.get('reason') or ''}"
    else:
        # The consent expired or was revoked before the agency took the referral: the code
        # says it was never sent and why (``not_sent_consent_expired``), the note when.
        reason_code = f"not_sent_{payload['reason_code']}"
        note = payload.get("reason") or ""
    note_delivery_problem(
        session,
        referral.id,
        reason_code=reason_code,
        note=note.strip(),
        at=payload[DELIVERY_PROBLEMS[envelope.type]],
        message_id=envelope.id,
    )


def handle_status_answer(session: Session, envelope: Envelope) -> None:
    """The agency's answer to a status query: where the referral stands at the agency.

    A status the closed loop allows from the current one is applied like the agency's own
    message of that status would be (the answer may bring news that got lost); any other
    (the same status, an earlier one, or "unknown": the agency has no such referral) is
    recorded in the history without moving the status, so the counsellor sees the agency's
    word beside the referral's state."""
    payload = load_payload(envelope)
    referral = _referral_for(session, envelope, payload["referral_id"])
    answered: str = payload["status"]
    as_of: datetime = payload["as_of"]
    reported = AGENCY_STATUSES.get(answered)
    if reported is not None and transition_allowed(ReferralStatus(referral.status), reported):
        apply_agency_status(
            session,
            referral.id,
            reported,
            at=as_of,
            message_id=envelope.id,
            reason_code="status_answer",
            note=f"Statusauskunft der Stelle vom {as_of.isoformat()}",
            agency=agency_principal(envelope),
        )
        return
    note_status_answer(session, referral.id, answered=answered, at=as_of, message_id=envelope.id)


def handle_course_obligation(session: Session, envelope: Envelope) -> None:
    """§ 44a AufenthG: an agency obliges a client to attend a course; attach it to the case."""
    payload = load_payload(envelope)
    if payload["imposed_by"] != envelope.sender:
        # Only the agency itself can say it imposed the obligation: the connector names who
        # sent the notice (its own agency kind), the payload may not name another.
        raise AnswerRefused(
            "wrong_agency",
            "Die Teilnahmeverpflichtung nennt eine andere Stelle als die, die sie meldet.",
            f"The notice says {payload['imposed_by']} imposed it, but {envelope.sender} sent it.",
        )
    identity = payload["client"]
    client = record_course_obligation(
        session,
        tenant=envelope.tenant,
        given_name=identity["given_name"],
        family_name=identity["family_name"],
        birth_date=identity["birth_date"],
        imposed_by=envelope.sender,
        message_id=envelope.id,
    )
    if client is None:
        raise AnswerRefused(
            "unknown_client",
            "Keine passende Person für die Teilnahmeverpflichtung gefunden.",
            "No matching person for the course obligation.",
        )


def register_handlers(consumer: Any) -> None:
    """Wire the agreement service's handlers into a ``messaging.consumer.MessageConsumer``."""
    for message_type in STATUS_MESSAGES:
        consumer.register(message_type, handle_status)
    for message_type in DELIVERY_PROBLEMS:
        consumer.register(message_type, handle_delivery_problem)
    consumer.register("status.answer", handle_status_answer)
    consumer.register("course_obligation.imposed", handle_course_obligation)
