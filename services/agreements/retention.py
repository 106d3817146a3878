"""Retention: the personal data of cases closed long enough ago is deleted or anonymised.

A case is due when all its agreements are closed (or superseded), the last closing lies more
than the tenant's ``[retention] years`` before the day the rule is applied for, and its data
was not removed before. What the rule removes is everything that names or describes the
person; what it keeps is what the figures count (ids, office, dates, statuses, fields,
outcomes, the closing answers), so every figure stays exactly the same after a run:

- both actions: names emptied; health notes, household and the § 44a details dropped; every
  assessment deleted; every free text of the case emptied (goal targets, step descriptions,
  review notes and obstacles, the closing balance, amendment reasons, referral notes and the
  notes in their history); the messages already sent to agencies about the case deleted
  from the outbox;
- ``delete`` also replaces birth date, arrival date, country of origin, languages and
  residence status by fixed placeholders (1900-01-01, ``XX``, none);
- ``anonymise`` keeps them coarsened for statistics: the year of birth (1 January), the month
  of arrival (its first day), the country of origin; languages and residence status go.

The rows stay (the figures count them); the columns hold nothing about the person. Each run
that changed something writes one row of the deletion log (``retention_runs``: rule, how
many, when, by whom; no ids, no names) and one audit entry. Operations flush; the caller
commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Select, case, delete, func, select, update
from sqlalchemy.orm import Session

from messaging.store import OutboxMessage
from tenants.registry import RetentionEntry

from .db import utcnow
from .models import (
    Agreement,
    Assessment,
    Client,
    Goal,
    Referral,
    ReferralEvent,
    RetentionRun,
    Review,
    ReviewStepResult,
    Step,
)
from .models.vocabulary import AgreementStatus, Role
from .operations import audit
from .operations.review_schedule import add_months
from .principal import Principal

PLACEHOLDER_DAY = date(1900, 1, 1)
BATCH = 500
OPEN = (AgreementStatus.DRAFT, AgreementStatus.SIGNED, AgreementStatus.ACTIVE)


@dataclass(frozen=True)
class RetentionResult:
    tenant: str
    action: str
    years: int
    as_of: date
    closed_before: date
    cases: int
    dry_run: bool


def closed_before(rule: RetentionEntry, as_of: date) -> date:
    """Cases whose last closing is before this day are due (``years`` before ``as_of``)."""
    return add_months(as_of, -12 * rule.years)


def due_clients(cutoff: date) -> Select[uuid.UUID]:
    """Ids of the clients due: every agreement closed or superseded, at least one closed,
    the last closing before ``cutoff``, personal data still there."""
    moment = datetime.combine(cutoff, time(0), tzinfo=UTC)
    still_open = (
        select(Agreement.id)
        .where(Agreement.client_id == Client.id, Agreement.status.in_(OPEN))
        .exists()
    )
    last_closed = (
        select(func.max(Agreement.closed_at))
        .where(Agreement.client_id == Client.id)
        .scalar_subquery()
    )
    return select(Client.id).where(
        Client.personal_data_removed_at.is_(None),
        ~still_open,
        last_closed < moment,
    )


def _erase(session: Session, client_ids: list[uuid.UUID], action: str) -> None:
    """Remove the personal data of these clients, in bulk statements."""
    now = utcnow()
    due = client_ids
    agreements = select(Agreement.id).where(Agreement.client_id.in_(due))
    goals = select(Goal.id).where(Goal.agreement_id.in_(agreements))
    reviews = select(Review.id).where(Review.agreement_id.in_(agreements))
    referrals = select(Referral.id).where(Referral.client_id.in_(due))
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.correlation_id.in_(referrals), OutboxMessage.sent_at.is_not(None)
        )
    )
    session.execute(delete(Assessment).where(Assessment.client_id.in_(due)))
    session.execute(update(ReferralEvent).where(ReferralEvent.referral_id.in_(referrals))
                    .values(note=""))  # fmt: skip
    session.execute(update(Referral).where(Referral.id.in_(referrals)).values(note=""))
    session.execute(update(ReviewStepResult).where(ReviewStepResult.review_id.in_(reviews))
                    .values(note=""))  # fmt: skip
    session.execute(update(Review).where(Review.id.in_(reviews)).values(obstacles=""))
    session.execute(update(Step).where(Step.goal_id.in_(goals)).values(description=""))
    session.execute(update(Goal).where(Goal.id.in_(goals)).values(target=""))
    session.execute(
        update(Agreement)
        .where(Agreement.client_id.in_(due))
        .values(
            balance=case((Agreement.balance.is_(None), None), else_=""),
            amendment_reason=case((Agreement.amendment_reason.is_(None), None), else_=""),
        )
    )
    values: dict[str, object] = {
        "given_name": "",
        "family_name": "",
        "search_name": "",
        "household": None,
        "health_notes": None,
        "course_obligation": False,
        "course_obligation_imposed_by": None,
        "languages": [],
        "residence_status": None,
        "personal_data_removed_at": now,
    }
    if action == "delete":
        values.update(
            birth_date=PLACEHOLDER_DAY, arrival_date=PLACEHOLDER_DAY, country_of_origin="XX"
        )
    else:
        values.update(_coarsened(session))
    session.execute(update(Client).where(Client.id.in_(due)).values(**values))


def _coarsened(session: Session) -> dict[str, object]:
    """Year of birth (1 January), month of arrival (its first day), as SQL expressions."""
    if session.get_bind().dialect.name == "postgresql":
        return {
            "birth_date": func.date_trunc("year", Client.birth_date).cast(Client.birth_date.type),
            "arrival_date": func.date_trunc("month", Client.arrival_date).cast(
                Client.arrival_date.type
            ),
        }
    return {
        "birth_date": func.strftime("%Y-01-01", Client.birth_date),
        "arrival_date": func.strftime("%Y-%m-01", Client.arrival_date),
    }


def apply_retention(
    session: Session,
    tenant: str,
    rule: RetentionEntry,
    *,
    as_of: date,
    actor: str,
    dry_run: bool = False,
) -> RetentionResult:
    """Apply ``rule`` for the day ``as_of``; with ``dry_run`` only count what is due."""
    cutoff = closed_before(rule, as_of)
    due = due_clients(cutoff)
    cases = session.scalar(select(func.count()).select_from(due.subquery())) or 0
    result = RetentionResult(tenant, rule.action, rule.years, as_of, cutoff, int(cases), dry_run)
    if dry_run or not cases:
        return result
    ids = list(session.scalars(due))
    for start in range(0, len(ids), BATCH):  # bounded statements, however many are due
        _erase(session, ids[start : start + BATCH], rule.action)
    run = RetentionRun(
        ran_at=utcnow(),
        as_of=as_of,
        action=rule.action,
        years=rule.years,
        closed_before=cutoff,
        cases=int(cases),
        actor=actor,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        Principal(actor, Role.SERVICE, tenant),
        f"retention.{rule.action}",
        "retention_run",
        str(run.id),
        None,
        cases=int(cases),
        years=rule.years,
        closed_before=cutoff.isoformat(),
    )
    return result
