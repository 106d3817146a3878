"""Read-only views for the dashboard that no API operation offers yet. Each query is scoped
through ``operations.scope`` (the counsellor's office) and audits the cases it shows.

(Candidates to move into ``operations`` once the API wants them too.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import Agreement, Client, Consent, Goal, Referral, ReferralEvent, Review, Step
from ..models.vocabulary import AgreementStatus, ReferralStatus, StepStatus
from ..operations import audit
from ..operations.scope import visible_clients
from ..principal import Principal
from . import labels

#: An active agreement is listed when its review (``next_review_due``) is this close ...
REVIEW_HORIZON = timedelta(days=30)
#: ... or when an open step falls due within this horizon.
STEP_HORIZON = timedelta(days=14)
WAITING_FOR_ANSWER = (ReferralStatus.REQUESTED, ReferralStatus.SENT, ReferralStatus.RECEIVED)
#: Not handed to the agency's channel after this long: a delivery problem, never silent.
DELIVERY_DELAY = timedelta(minutes=15)
LIMIT = 10
#: Consents expiring this soon are listed on the dashboard.
CONSENT_HORIZON = timedelta(days=30)


@dataclass(frozen=True)
class ReviewDue:
    agreement: Agreement
    client: Client
    last_review: datetime | None
    next_step_due: date | None
    overdue: bool = False


@dataclass(frozen=True)
class ConsentRow:
    consent: Consent
    client: Client


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    client: Client


def my_cases(session: Session, principal: Principal, user_id: uuid.UUID) -> list[Client]:
    """The cases the user is responsible for (not: created), most recently changed first."""
    return _cases(session, principal, Client.responsible_id == user_id)


def office_cases(session: Session, principal: Principal, user_id: uuid.UUID) -> list[Client]:
    """The office's other cases, most recently changed first: a substitute finds them here."""
    return _cases(
        session,
        principal,
        or_(Client.responsible_id.is_(None), Client.responsible_id != user_id),
    )


def _cases(session: Session, principal: Principal, condition: object) -> list[Client]:
    clients = list(
        session.scalars(
            visible_clients(principal)
            .where(condition, Client.personal_data_removed_at.is_(None))  # type: ignore[arg-type]
            .order_by(Client.updated_at.desc())
            .limit(LIMIT)
        )
    )
    audit.record_reads(session, principal, "client", (c.id for c in clients))
    return clients


def reviews_due(session: Session, principal: Principal, today: date) -> list[ReviewDue]:
    """Active agreements whose review falls due within the horizon (``next_review_due``, at
    most the tenant's interval after signing or the last review) or is overdue, and those
    with an open step due soon; overdue first."""
    office_id = principal.require_case_access()
    last_review = (
        select(Review.agreement_id, func.max(Review.created_at).label("at"))
        .group_by(Review.agreement_id)
        .subquery()
    )
    next_step = (
        select(Goal.agreement_id, func.min(Step.due_date).label("due"))
        .join(Step, Step.goal_id == Goal.id)
        .where(Step.status == StepStatus.OPEN)
        .group_by(Goal.agreement_id)
        .subquery()
    )
    rows = session.execute(
        select(Agreement, Client, last_review.c.at, next_step.c.due)
        .join(Client, Agreement.client_id == Client.id)
        .outerjoin(last_review, last_review.c.agreement_id == Agreement.id)
        .outerjoin(next_step, next_step.c.agreement_id == Agreement.id)
        .where(
            Client.office_id == office_id,
            Agreement.status == AgreementStatus.ACTIVE,
            or_(
                Agreement.next_review_due <= today + REVIEW_HORIZON,
                next_step.c.due <= today + STEP_HORIZON,
            ),
        )
        .order_by(Agreement.next_review_due.asc().nulls_last(), next_step.c.due.asc())
        .limit(LIMIT)
    ).all()
    due = [
        ReviewDue(agreement, client, reviewed_at, step_due,
                  agreement.next_review_due is not None and agreement.next_review_due < today)
        for agreement, client, reviewed_at, step_due in rows
    ]  # fmt: skip
    audit.record_reads(session, principal, "agreement", (d.client.id for d in due))
    return due


def consents_expiring(session: Session, principal: Principal) -> list[ConsentRow]:
    """Consents still in force that expire within the horizon: ask for a new one in time."""
    office_id = principal.require_case_access()
    now = utcnow()
    rows = session.execute(
        select(Consent, Client)
        .join(Client, Consent.client_id == Client.id)
        .where(
            Client.office_id == office_id,
            Consent.revoked_at.is_(None),
            Consent.expires_at > now,
            Consent.expires_at <= now + CONSENT_HORIZON,
        )
        .order_by(Consent.expires_at)
        .limit(LIMIT)
    ).all()
    result = [ConsentRow(consent, client) for consent, client in rows]
    audit.record_reads(session, principal, "consent", (r.client.id for r in result))
    return result


def _referrals(session: Session, principal: Principal, *conditions: object) -> list[ReferralRow]:
    office_id = principal.require_case_access()
    rows = session.execute(
        select(Referral, Client)
        .join(Client, Referral.client_id == Client.id)
        .where(Client.office_id == office_id, *conditions)  # type: ignore[arg-type]
        .order_by(Referral.updated_at.asc())
        .limit(LIMIT)
    ).all()
    result = [ReferralRow(referral, client) for referral, client in rows]
    audit.record_reads(session, principal, "referral", (r.client.id for r in result))
    return result


#: The connector refused to send it (the consent lapsed): it will never reach the agency.
_NOT_SENT = (
    select(ReferralEvent.id)
    .where(
        ReferralEvent.referral_id == Referral.id,
        ReferralEvent.reason_code.in_(list(labels.NOT_SENT_REASONS)),
    )
    .exists()
)


def referrals_waiting(session: Session, principal: Principal) -> list[ReferralRow]:
    return _referrals(session, principal, Referral.status.in_(WAITING_FOR_ANSWER), ~_NOT_SENT)


def delayed_deliveries(session: Session, principal: Principal) -> list[ReferralRow]:
    return _referrals(
        session,
        principal,
        Referral.status == ReferralStatus.REQUESTED,
        Referral.created_at <= utcnow() - DELIVERY_DELAY,
        ~_NOT_SENT,
    )


def referrals_not_sent(session: Session, principal: Principal) -> list[ReferralRow]:
    """Open referrals the connector did not send because the consent lapsed: the counsellor
    withdraws them or asks for a new consent and refers again."""
    return _referrals(session, principal, Referral.status.in_(WAITING_FOR_ANSWER), _NOT_SENT)
