"""Rebuilding the running counts and measured durations behind the figures from the cases,
with grouped SQL (``figures.counts`` keeps them as the work happens; this computes the same
from scratch): for the upgrade that introduced them, after data changed behind the
operations' back (``integra evaluation recount``), and in the test that holds the kept
counts to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    not_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from ..models import (
    Agreement,
    Client,
    FigureCount,
    FigureValue,
    Goal,
    Referral,
    ReferralEvent,
    Review,
    Step,
)
from ..models import ReviewStepResult as Result
from ..models.figure_counts import UNDATED
from ..models.vocabulary import AgreementStatus, ReferralStatus
from .counts import AGREED, ANSWERS, ENDED, FUNNEL, FUNNEL_RANK, OPEN, REACHED, UNSIGNED, Key
from .sql import seconds_between


def utc_day(dialect: str, column: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def rebuild(connection: Connection) -> None:
    """Recompute the referrals' and clients' first moments and every count from the cases,
    in grouped SQL statements (run inside the caller's transaction)."""
    d = connection.dialect.name

    def first(statuses: Iterable[str]) -> Any:
        return (
            select(func.min(ReferralEvent.at))
            .where(ReferralEvent.referral_id == Referral.id, ReferralEvent.status.in_(statuses))
            .scalar_subquery()
        )

    connection.execute(
        update(Referral).values(
            reached_at=first(REACHED),
            answered_at=first(ANSWERS),
            started_at=first((ReferralStatus.STARTED,)),
        )
    )
    connection.execute(
        update(Client).values(
            first_signed_at=select(func.min(Agreement.activated_at))
            .where(Agreement.client_id == Client.id)
            .scalar_subquery()
        )
    )
    connection.execute(delete(FigureValue))
    columns = ["metric", "subject_id", "day", "office_id", "value"]
    signed = (
        select(
            literal("contact_to_signed"), Client.id, utc_day(d, Client.first_signed_at),
            Client.office_id,
            seconds_between(d, Client.created_at, Client.first_signed_at) / 86400.0,
        ).where(Client.first_signed_at.is_not(None))
    )  # fmt: skip
    connection.execute(insert(FigureValue).from_select(columns, signed))
    for metric, moment, unit in (
        ("referral_to_first_answer", Referral.answered_at, 3600.0),
        ("referral_to_measure_start", Referral.started_at, 86400.0),
    ):
        measured = (
            select(
                literal(metric), Referral.id, utc_day(d, Referral.created_at), Client.office_id,
                seconds_between(d, Referral.created_at, moment) / unit,
            )
            .join(Client, Referral.client_id == Client.id)
            .where(moment.is_not(None))
        )  # fmt: skip
        connection.execute(insert(FigureValue).from_select(columns, measured))
    connection.execute(delete(FigureCount))
    for query in _rebuild_queries(d):
        connection.execute(
            insert(FigureCount).from_select(
                ["metric", "day", "office_id", "key1", "key2", "n"], query
            )
        )


def _rebuild_queries(d: str) -> list[Any]:
    created = utc_day(d, Agreement.created_at)
    closed = utc_day(d, Agreement.closed_at)

    def counted(metric: str, day: Any, key1: Any, key2: Any, base: Any) -> Any:
        return base.with_only_columns(
            literal(metric).label("metric"),
            day.label("day"),
            Client.office_id,
            key1.label("key1"),
            key2.label("key2"),
            func.count().label("n"),
        ).group_by(day, Client.office_id, key1, key2)

    empty = literal("")
    agreements = select(Agreement).join(Client, Agreement.client_id == Client.id)
    goals = (
        select(Goal)
        .join(Agreement, Goal.agreement_id == Agreement.id)
        .join(Client, Agreement.client_id == Client.id)
    )
    steps = goals.join(Step, Step.goal_id == Goal.id)
    is_closed = Agreement.status == AgreementStatus.CLOSED
    reviews = (
        select(Review)
        .join(Agreement, Review.agreement_id == Agreement.id)
        .join(Client, Agreement.client_id == Client.id)
    )
    results = (
        select(Result)
        .join(Review, Result.review_id == Review.id)
        .join(Step, Result.step_id == Step.id)
        .join(Goal, Step.goal_id == Goal.id)
        .join(Agreement, Review.agreement_id == Agreement.id)
        .join(Client, Agreement.client_id == Client.id)
    )
    review_day = utc_day(d, Review.created_at)
    queries = [
        counted("agreement_status", created, Agreement.status, empty, agreements),
        counted("goal_agreed", created, Goal.field, empty,
                goals.where(Agreement.status.in_(AGREED))),
        counted("step_status", created, Step.owner_side, Step.status,
                steps.where(Agreement.status.in_(AGREED))),
        counted("goal_closed", closed, Goal.field,
                func.coalesce(Goal.attainment, "not_assessed"), goals.where(is_closed)),
        counted("closing_outcome", closed, func.coalesce(Agreement.outcome, ""), empty,
                agreements.where(is_closed)),
        counted("closing_answer", closed, literal("helped"),
                func.coalesce(Agreement.helped, "not_answered"), agreements.where(is_closed)),
        counted("closing_answer", closed, literal("easier_to_keep_going"),
                func.coalesce(Agreement.easier_to_keep_going, "not_answered"),
                agreements.where(is_closed)),
        counted("caseload", literal(UNDATED), Agreement.created_by, empty,
                agreements.where(Agreement.status.in_(OPEN),
                                 not_(and_(Agreement.previous_id.is_not(None),
                                           Agreement.status.in_(UNSIGNED))))),
        counted("review_due", Agreement.next_review_due, empty, empty,
                agreements.where(Agreement.status == AgreementStatus.ACTIVE,
                                 Agreement.next_review_due.is_not(None))),
        counted("review_held", review_day, empty, empty, reviews),
        counted("review_result", review_day, Goal.field, Result.result, results),
    ]  # fmt: skip
    rank = func.max(
        case(*((ReferralEvent.status == s, r) for s, r in FUNNEL_RANK.items()), else_=0)
    )
    rejection = func.min(
        case((ReferralEvent.status == ReferralStatus.REJECTED,
              func.coalesce(ReferralEvent.reason_code, "none")))
    )  # fmt: skip
    per_referral = (
        select(
            utc_day(d, Referral.created_at).label("day"),
            Client.office_id.label("office_id"),
            Referral.recipient_kind.label("kind"),
            Referral.status.label("status"),
            rank.label("rank"),
            rejection.label("rejection"),
        )
        .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
        .join(Client, Referral.client_id == Client.id)
        .group_by(
            Referral.id,
            Referral.created_at,
            Client.office_id,
            Referral.recipient_kind,
            Referral.status,
        )
        .subquery("per_referral")
    )
    p = aliased(per_referral)

    def per(metric: str, key2: Any, *where: Any) -> Any:
        return (
            select(literal(metric), p.c.day, p.c.office_id, p.c.kind, key2, func.count())
            .where(*where)
            .group_by(p.c.day, p.c.office_id, p.c.kind, key2)
        )

    queries.append(per("referral_stage", literal("requested")))
    for position, stage in enumerate(FUNNEL, start=1):
        queries.append(per("referral_stage", literal(stage), p.c.rank >= position))
    queries.append(per("referral_status", p.c.status, p.c.status.in_(ENDED)))
    queries.append(per("referral_rejection", p.c.rejection, p.c.rejection.is_not(None)))
    return queries


def kept_values(connection: Connection) -> dict[tuple[str, uuid.UUID], tuple[date, Any, float]]:
    """Every measured duration (to compare what was kept with a rebuild)."""
    rows = connection.execute(
        select(FigureValue.metric, FigureValue.subject_id, FigureValue.day,
               FigureValue.office_id, FigureValue.value)
    )  # fmt: skip
    return {(m, s): (d, o, v) for m, s, d, o, v in rows}


def kept_counts(connection: Connection) -> dict[Key, int]:
    """Every nonzero count (to compare what was kept with a rebuild)."""
    rows = connection.execute(
        select(FigureCount.metric, FigureCount.day, FigureCount.office_id, FigureCount.key1,
               FigureCount.key2, FigureCount.n).where(FigureCount.n != 0)
    )  # fmt: skip
    return {(m, d, o, k1, k2): n for m, d, o, k1, k2, n in rows}
