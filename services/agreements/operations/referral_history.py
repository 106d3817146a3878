"""A referral's closed loop: which status may follow which, and its history.

Every change of a referral's status, by the office or by an agency's answer through the bus,
goes through :func:`change_status` (or leaves the status as it is and only adds to the
history): one set of rules, one history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidTransition, NotFound
from ..figures.counts import agreement_counts, note_timing, office_of, recount, referral_counts
from ..models import Agreement, Goal, Referral, ReferralEvent, Step
from ..models.vocabulary import (
    TERMINAL_REFERRAL_STATUSES,
    AgreementStatus,
    ReferralStatus,
    StepStatus,
)
from ..principal import Principal
from . import audit

#: Forward order of the closed loop. A status may move only forward; ``rejected`` only
#: before acceptance; ``withdrawn`` and ``revoked`` from any open state.
_RANK = {
    ReferralStatus.REQUESTED: 0,
    ReferralStatus.SENT: 1,
    ReferralStatus.RECEIVED: 2,
    ReferralStatus.ACCEPTED: 3,
    ReferralStatus.REJECTED: 3,
    ReferralStatus.SCHEDULED: 4,
    ReferralStatus.STARTED: 5,
    ReferralStatus.COMPLETED: 6,
    ReferralStatus.ABORTED: 6,
}


def _locked_referral(session: Session, referral_id: uuid.UUID) -> Referral:
    """The referral an agency's or a connector's message is about, locked for the change (a
    message names it by id; no office scope applies to the bus)."""
    referral = session.get(Referral, referral_id, with_for_update=True)
    if referral is None:
        raise NotFound("referral")
    return referral


def transition_allowed(current: ReferralStatus, new: ReferralStatus) -> bool:
    if current in TERMINAL_REFERRAL_STATUSES:
        return False
    if new in (ReferralStatus.WITHDRAWN, ReferralStatus.REVOKED):
        return True
    if new == ReferralStatus.REJECTED:
        return _RANK[current] < _RANK[ReferralStatus.ACCEPTED]
    if new == ReferralStatus.REQUESTED:
        return False
    return _RANK[new] > _RANK[current]


def append_event(
    session: Session,
    referral: Referral,
    status: ReferralStatus,
    *,
    told: ReferralStatus | None = None,
    at: datetime | None = None,
    message_id: uuid.UUID | None = None,
    reason_code: str | None = None,
    note: str = "",
) -> ReferralEvent:
    """Append to the history and set the referral's ``status``; the entry records ``told``
    where a message named a status that does not become the referral's (a late answer).

    The referral's contribution to the figures' running counts moves with it."""
    office = office_of(session, referral.client_id)
    before = referral_counts(referral, office)
    event = ReferralEvent(
        sequence=len(referral.history),
        status=told or status,
        at=at or utcnow(),
        message_id=message_id,
        reason_code=reason_code,
        note=note,
    )
    referral.history.append(event)
    referral.status = status
    note_timing(session, referral, event.status, event.at, office)
    session.flush()
    recount(session, before, referral_counts(referral, office))
    return event


def change_status(
    session: Session,
    principal: Principal | None,
    referral: Referral,
    status: ReferralStatus,
    **event_fields: Any,
) -> ReferralEvent:
    current = ReferralStatus(referral.status)
    if not transition_allowed(current, status):
        raise InvalidTransition(
            "referral_transition_not_allowed",
            f"Weiterleitung im Status '{current.value}' kann nicht in '{status.value}' wechseln.",
            f"A referral in status '{current.value}' cannot move to '{status.value}'.",
        )
    event = append_event(session, referral, status, **event_fields)
    if principal is not None:
        audit.record(
            session,
            principal,
            f"referral.{status.value}",
            "referral",
            referral.id,
            referral.client_id,
        )
    return event


def apply_agency_status(
    session: Session,
    referral_id: uuid.UUID,
    status: ReferralStatus,
    *,
    at: datetime,
    message_id: uuid.UUID,
    reason_code: str | None = None,
    note: str = "",
    agency: Principal | None = None,
) -> Referral:
    """A status answer from the agency (via the bus); same rules as every other change.

    A completed measure completes its step: a step of the active agreement that is still
    open (or partly done) becomes done, audited as the agency's doing (``agency``, the bus's
    principal); the counsellor sees it on the agreement and can review it as usual."""
    referral = _locked_referral(session, referral_id)
    change_status(
        session,
        None,
        referral,
        status,
        at=at,
        message_id=message_id,
        reason_code=reason_code,
        note=note,
    )
    if status == ReferralStatus.COMPLETED and referral.step_id is not None:
        _complete_step(session, referral, agency)
    return referral


def _complete_step(session: Session, referral: Referral, agency: Principal | None) -> None:
    step = session.scalar(
        select(Step)
        .join(Goal, Step.goal_id == Goal.id)
        .join(Agreement, Goal.agreement_id == Agreement.id)
        .where(
            Step.id == referral.step_id,
            Agreement.status == AgreementStatus.ACTIVE,
            Step.status.in_([StepStatus.OPEN, StepStatus.PARTLY]),
        )
        .with_for_update()
    )
    if step is None:
        return
    agreement = session.scalars(
        select(Agreement)
        .join(Goal, Goal.agreement_id == Agreement.id)
        .where(Goal.id == step.goal_id)
    ).one()
    office = office_of(session, referral.client_id)
    before = agreement_counts(agreement, office)
    step.status = StepStatus.DONE
    session.flush()
    recount(session, before, agreement_counts(agreement, office))
    if agency is not None:
        audit.record(
            session,
            agency,
            "step.done_by_referral",
            "step",
            step.id,
            referral.client_id,
            referral_id=str(referral.id),
        )


def note_beside_status(
    session: Session,
    referral_id: uuid.UUID,
    *,
    reason_code: str,
    note: str,
    at: datetime,
    message_id: uuid.UUID,
    told: ReferralStatus | None = None,
) -> Referral:
    """An entry in the referral's history that does not move its status: what an agency or
    a connector said (``told``: the status the message named; default the current one)."""
    referral = _locked_referral(session, referral_id)
    append_event(
        session,
        referral,
        ReferralStatus(referral.status),
        told=told,
        at=at,
        message_id=message_id,
        reason_code=reason_code,
        note=note,
    )
    return referral


#: A connector reports that delivery is delayed, failed, or will not happen because the
#: consent expired or was revoked first: the referral keeps its status (the closed loop has no
#: "not sent" state), and its history shows the problem with its reason code (the dashboard
#: lists referrals still not delivered; the portal marks those never sent).
note_delivery_problem = note_beside_status


def note_late_answer(
    session: Session,
    referral_id: uuid.UUID,
    told: ReferralStatus,
    *,
    at: datetime,
    message_id: uuid.UUID,
    note: str = "",
) -> Referral:
    """An agency's answer that arrives late or out of order (a "received" after "completed",
    an acceptance after a withdrawal): in the history with the status it told and its time,
    reason ``late_answer``; the referral's status never moves back."""
    return note_beside_status(
        session,
        referral_id,
        told=told,
        reason_code="late_answer",
        note=note,
        at=at,
        message_id=message_id,
    )


def note_status_answer(
    session: Session,
    referral_id: uuid.UUID,
    *,
    answered: str,
    at: datetime,
    message_id: uuid.UUID,
) -> Referral:
    """The agency's status answer that does not move the referral (it confirms the current
    status, names an earlier one, or says the agency does not know the referral): kept in the
    history with the agency's words, the status unchanged. ``reason_code`` tells them apart:
    ``status_confirmed``, ``status_unknown_at_agency`` or ``status_answer``."""
    referral = session.get(Referral, referral_id)
    current = referral.status if referral is not None else None
    if answered == current:
        reason_code, note = "status_confirmed", "Die Stelle bestätigt den Stand."
    elif answered == "unknown":
        reason_code = "status_unknown_at_agency"
        note = "Die Stelle kennt diese Weiterleitung nicht."
    else:
        reason_code, note = "status_answer", f"Die Stelle meldet den Stand '{answered}'."
    return note_beside_status(
        session, referral_id, reason_code=reason_code, note=note, at=at, message_id=message_id
    )
