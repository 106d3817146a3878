"""Figures of the offer directory for the evaluation: per goal field, how many offers were
suggested, linked to a step and used (a linked step that was done), in a period.

Each count is of distinct (client, offer) pairs, so a draft saved twice, an amendment that
carries a link over or a suggestion list opened again counts once: a pair counts in the period
where it first happened (suggested: first shown; linked: first agreement version with the link;
used: first review that found the step done). Computed in SQL; ``office_id`` narrows to the
cases of one office. Small cells are the figures page's concern (issue 15), not this one's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Agreement, Client, Goal, Review, ReviewStepResult, Step
from ...models.vocabulary import GoalField, ReviewResult
from ..models import OfferSuggestion


@dataclass(frozen=True)
class OfferFigures:
    suggested: int = 0
    linked: int = 0
    used: int = 0


def _bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start of date_from, start of the day after date_to) in UTC."""
    return (
        datetime.combine(date_from, time(0), tzinfo=UTC),
        datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=UTC),
    )


def _first_in_period(pairs: Any, start: datetime, end: datetime) -> Any:
    """``pairs`` (field, client, offer, at) → count per field of pairs first seen in period."""
    firsts = (
        select(pairs.c.field, func.min(pairs.c.at).label("first"))
        .group_by(pairs.c.field, pairs.c.client_id, pairs.c.offer_id)
        .subquery()
    )
    return (
        select(firsts.c.field, func.count())
        .where(firsts.c.first >= start, firsts.c.first < end)
        .group_by(firsts.c.field)
    )


def offer_figures(
    session: Session, *, date_from: date, date_to: date, office_id: uuid.UUID | None = None
) -> dict[str, OfferFigures]:
    """Suggested, linked and used offers per goal field in [date_from, date_to] (whole days,
    UTC), for the whole tenant or one office. Every field is present, zero where nothing."""
    start, end = _bounds(date_from, date_to)

    suggested = select(
        OfferSuggestion.field.label("field"),
        OfferSuggestion.client_id.label("client_id"),
        OfferSuggestion.service_id.label("offer_id"),
        OfferSuggestion.at.label("at"),
    )
    if office_id is not None:
        suggested = suggested.where(OfferSuggestion.office_id == office_id)

    linked_steps = (
        select(
            Goal.field.label("field"),
            Agreement.client_id.label("client_id"),
            Step.offer_service_id.label("offer_id"),
        )
        .join(Goal, Goal.id == Step.goal_id)
        .join(Agreement, Agreement.id == Goal.agreement_id)
        .where(Step.offer_service_id.is_not(None))
    )
    linked = linked_steps.add_columns(Agreement.created_at.label("at"))
    used = (
        linked_steps.add_columns(Review.created_at.label("at"))
        .join(ReviewStepResult, ReviewStepResult.step_id == Step.id)
        .join(Review, Review.id == ReviewStepResult.review_id)
        .where(ReviewStepResult.result == ReviewResult.DONE)
    )
    if office_id is not None:
        linked = linked.join(Client, Client.id == Agreement.client_id).where(
            Client.office_id == office_id
        )
        used = used.join(Client, Client.id == Agreement.client_id).where(
            Client.office_id == office_id
        )
    counts: dict[str, dict[str, int]] = {str(f): {} for f in GoalField}
    for name, query in (("suggested", suggested), ("linked", linked), ("used", used)):
        for field, count in session.execute(_first_in_period(query.subquery(), start, end)):
            counts.setdefault(field, {})[name] = count
    return {field: OfferFigures(**values) for field, values in counts.items()}
