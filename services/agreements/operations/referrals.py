"""Referrals to partner agencies and their closed-loop status.

The API and the bus's message handlers change a referral only through these functions, so a
status from an agency and a withdrawal by the office follow the same rules and history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import outgoing
from ..db import utcnow
from ..errors import InvalidInput, InvalidTransition, NotFound
from ..figures.counts import note_timing, office_of, recount, referral_counts
from ..models import Agreement, Client, Consent, Goal, Referral, ReferralEvent, Step
from ..models.vocabulary import (
    TERMINAL_REFERRAL_STATUSES,
    AgreementStatus,
    ReferralStatus,
)
from ..principal import Principal
from . import audit
from .scope import client_in_scope, consent_in_scope, referral_in_scope

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


def _append_event(
    session: Session,
    referral: Referral,
    status: ReferralStatus,
    *,
    at: datetime | None = None,
    message_id: uuid.UUID | None = None,
    reason_code: str | None = None,
    note: str = "",
) -> ReferralEvent:
    office = office_of(session, referral.client_id)
    before = referral_counts(referral, office)
    event = ReferralEvent(
        sequence=len(referral.history),
        status=status,
        at=at or utcnow(),
        message_id=message_id,
        reason_code=reason_code,
        note=note,
    )
    referral.history.append(event)
    referral.status = status
    note_timing(session, referral, status, event.at, office)
    session.flush()
    recount(session, before, referral_counts(referral, office))
    return event


def _check_consent(consent: Consent, client: Client, data: dict[str, Any]) -> None:
    problems: dict[str, list[str]] = {}
    if consent.client_id != client.id:
        problems["consent_id"] = ["consent of another person"]
    elif consent.recipient_kind != data["recipient_kind"]:
        problems["consent_id"] = [f"consent is for {consent.recipient_kind}"]
    elif data["purpose"] not in consent.purposes:
        problems["purpose"] = ["purpose not covered by the consent"]
    if problems:
        raise InvalidInput(
            "consent_does_not_cover",
            "Die Einwilligung deckt diese Weiterleitung nicht ab.",
            "The consent does not cover this referral.",
            fields=problems,
        )
    now = utcnow()
    if consent.revoked_at is not None:
        raise InvalidTransition(
            "consent_revoked",
            "Die Einwilligung wurde widerrufen; es wird nichts weitergeleitet.",
            "The consent has been revoked; nothing is sent.",
        )
    if not consent.is_valid_at(now):
        raise InvalidTransition(
            "consent_not_valid",
            "Die Einwilligung ist abgelaufen oder noch nicht wirksam; "
            "es wird nichts weitergeleitet.",
            "The consent has expired or is not yet in effect; nothing is sent.",
        )


def _step_of_active_agreement(session: Session, client: Client, step_id: uuid.UUID) -> Step:
    step = session.scalar(
        select(Step)
        .join(Goal, Step.goal_id == Goal.id)
        .join(Agreement, Goal.agreement_id == Agreement.id)
        .where(
            Step.id == step_id,
            Agreement.client_id == client.id,
            Agreement.status == AgreementStatus.ACTIVE,
        )
    )
    if step is None:
        raise InvalidInput(
            "step_not_in_active_agreement",
            "Der Schritt gehört nicht zur aktiven Vereinbarung dieser Person.",
            "The step does not belong to this person's active agreement.",
            fields={"step_id": ["not a step of the active agreement"]},
        )
    return step


def create_referral(session: Session, principal: Principal, data: dict[str, Any]) -> Referral:
    """Create a referral in status ``requested``; the outbox carries it to the agency."""
    client = client_in_scope(session, principal, data["client_id"])
    consent = consent_in_scope(session, principal, data["consent_id"])
    _check_consent(consent, client, data)
    step_id = data.get("step_id")
    if step_id is not None:
        _step_of_active_agreement(session, client, step_id)
    referral = Referral(
        client_id=client.id,
        consent_id=consent.id,
        step_id=step_id,
        recipient_kind=data["recipient_kind"],
        purpose=data["purpose"],
        note=data.get("note", ""),
        created_by=principal.actor,
        status=ReferralStatus.REQUESTED,
        history=[],
    )
    session.add(referral)
    session.flush()
    _append_event(session, referral, ReferralStatus.REQUESTED)
    audit.record(
        session,
        principal,
        "create",
        "referral",
        referral.id,
        client.id,
        recipient_kind=referral.recipient_kind,
        purpose=referral.purpose,
    )
    outgoing.referral_requested(session, referral)
    return referral


def get_referral(session: Session, principal: Principal, referral_id: uuid.UUID) -> Referral:
    referral = referral_in_scope(session, principal, referral_id)
    audit.record(session, principal, "read", "referral", referral.id, referral.client_id)
    return referral


def list_referrals(
    session: Session,
    principal: Principal,
    *,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 25,
    count: bool = True,
) -> tuple[list[Referral], int]:
    """A page of the office's referrals and their total (``count=False``: the page's length,
    for callers that show one page of one case and need no total)."""
    office_id = principal.require_case_access()
    query = (
        select(Referral)
        .join(Client, Referral.client_id == Client.id)
        .where(Client.office_id == office_id)
    )
    if client_id is not None:
        query = query.where(Referral.client_id == client_id)
    if status is not None:
        query = query.where(Referral.status == status)
    items = list(
        session.scalars(
            query.order_by(Referral.created_at.desc(), Referral.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    total = (
        session.scalar(select(func.count()).select_from(query.subquery())) or 0
        if count
        else len(items)
    )
    for referral in items:
        audit.record(session, principal, "read", "referral", referral.id, referral.client_id)
    return items, total


def withdraw_referral(
    session: Session, principal: Principal, referral_id: uuid.UUID, reason: str = ""
) -> Referral:
    referral = referral_in_scope(session, principal, referral_id, for_update=True)
    event = _change_status(session, principal, referral, ReferralStatus.WITHDRAWN, note=reason)
    outgoing.referral_withdrawn(session, referral, event.at, "by_office")
    return referral


def _change_status(
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
    event = _append_event(session, referral, status, **event_fields)
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
) -> Referral:
    """A status answer from the agency (via the bus); same rules as every other change."""
    referral = session.get(Referral, referral_id, with_for_update=True)
    if referral is None:
        raise NotFound("referral")
    _change_status(
        session,
        None,
        referral,
        status,
        at=at,
        message_id=message_id,
        reason_code=reason_code,
        note=note,
    )
    return referral


def note_delivery_problem(
    session: Session,
    referral_id: uuid.UUID,
    *,
    reason_code: str,
    note: str,
    at: datetime,
    message_id: uuid.UUID,
) -> Referral:
    """A connector reports that delivery is delayed, failed, or will not happen because the
    consent expired or was revoked first: the referral keeps its status (the closed loop has
    no "not sent" state), and its history shows the problem with its reason code (the
    dashboard lists referrals still not delivered; the portal marks those never sent)."""
    referral = session.get(Referral, referral_id, with_for_update=True)
    if referral is None:
        raise NotFound("referral")
    _append_event(
        session,
        referral,
        ReferralStatus(referral.status),
        at=at,
        message_id=message_id,
        reason_code=reason_code,
        note=note,
    )
    return referral


def revoke_covered_referrals(session: Session, principal: Principal, consent: Consent) -> None:
    """Revoking a consent revokes every open referral it covered, and tells the agencies:
    referral.withdrawn for each, and consent.revoked so they erase what they received."""
    open_referrals = list(
        session.scalars(
            select(Referral)
            .where(
                Referral.consent_id == consent.id,
                Referral.status.not_in([s.value for s in TERMINAL_REFERRAL_STATUSES]),
            )
            .order_by(Referral.created_at)
            .with_for_update()
        )
    )
    at = consent.revoked_at or utcnow()
    for referral in open_referrals:
        _change_status(
            session,
            principal,
            referral,
            ReferralStatus.REVOKED,
            at=at,
            reason_code="consent_revoked",
        )
        outgoing.referral_withdrawn(session, referral, at, "consent_revoked")
    if open_referrals:
        outgoing.consent_revoked(session, consent, open_referrals, at)
