"""The running counts behind the figures (``figure_counts``), kept in the same transaction as
the change they count, and rebuilt from the cases when needed.

Why: counted straight from the cases, the figures join agreements, goals, steps, clients
and referral histories (a million rows each at the scale of a large municipality): many
seconds. Counted as they happen, per office and day, the figures read a few thousand rows.

How they stay right: each agreement version, review and referral *contributes* a fixed set
of counts that depends only on its own state (``agreement_counts`` and so on). An operation
that changes one takes its contribution before and after and adds the difference; the
differences of a transaction are applied together just before it commits (sorted, so two
transactions take the counter rows in the same order), and a rolled-back transaction applies
none. ``figures.rebuild`` computes the same with SQL aggregates over the cases: for the
upgrade that introduces them, after anything changed the cases behind the operations' back,
and in the test that holds the kept counts to it.

Counts (metric: day, key1, key2):

- ``agreement_status``: version created; status
- ``goal_agreed``: version created; field (versions signed by both: active or closed)
- ``step_status``: version created; owner side, status (same versions)
- ``goal_closed``: closing; field, attainment or ``not_assessed``
- ``closing_outcome``: closing; outcome
- ``closing_answer``: closing; question, answer or ``not_answered``
- ``caseload``: undated; who drafted the version in force (open and not a pending amendment)
- ``review_due``: the day an active agreement's next review is due; -
- ``review_held``: review; -
- ``review_result``: review; goal field, result
- ``referral_stage``: referral created; agency kind, stage reached (requested … completed)
- ``referral_status``: referral created; agency kind, rejected / withdrawn / revoked
- ``referral_rejection``: referral created; agency kind, reason code
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import (
    Connection,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import (
    Agreement,
    Client,
    FigureCount,
    FigureValue,
    Referral,
    Review,
)
from ..models.figure_counts import UNDATED
from ..models.vocabulary import AgreementStatus, ReferralStatus
from ..operations.audit import lock_for_commit

Key = tuple[str, date, uuid.UUID, str, str]

AGREED = (AgreementStatus.ACTIVE, AgreementStatus.CLOSED)
OPEN = (AgreementStatus.DRAFT, AgreementStatus.SIGNED, AgreementStatus.ACTIVE)
UNSIGNED = (AgreementStatus.DRAFT, AgreementStatus.SIGNED)
#: Statuses that are an agency's answer (``sent`` is the connector's delivery notice).
ANSWERS = (
    ReferralStatus.RECEIVED,
    ReferralStatus.ACCEPTED,
    ReferralStatus.REJECTED,
    ReferralStatus.SCHEDULED,
    ReferralStatus.STARTED,
    ReferralStatus.COMPLETED,
    ReferralStatus.ABORTED,
)
REACHED = (ReferralStatus.SENT, *ANSWERS)
#: The funnel's stages; a referral has reached a stage when an entry of its history ranks at
#: least as high (an agency may answer "accepted" without "received"; a rejection means it
#: was received; an aborted measure had started).
FUNNEL = ("sent", "received", "accepted", "started", "completed")
FUNNEL_RANK = {
    ReferralStatus.SENT: 1,
    ReferralStatus.RECEIVED: 2,
    ReferralStatus.REJECTED: 2,
    ReferralStatus.ACCEPTED: 3,
    ReferralStatus.SCHEDULED: 3,
    ReferralStatus.STARTED: 4,
    ReferralStatus.ABORTED: 4,
    ReferralStatus.COMPLETED: 5,
}
ENDED = (ReferralStatus.REJECTED, ReferralStatus.WITHDRAWN, ReferralStatus.REVOKED)
QUESTIONS = ("helped", "easier_to_keep_going")

_PENDING = "integra.figure_counts_pending"


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


# -- contributions (Python, per changed object) ------------------------------------------


def office_of(session: Session, client_id: uuid.UUID) -> uuid.UUID:
    client = session.get(Client, client_id)
    assert client is not None
    return client.office_id


def agreement_counts(agreement: Agreement, office: uuid.UUID) -> Counter[Key]:
    counts: Counter[Key] = Counter()
    if agreement.created_at is None:
        return counts
    created = _day(agreement.created_at)
    counts["agreement_status", created, office, agreement.status, ""] += 1
    if agreement.status in AGREED:
        for goal in agreement.goals:
            counts["goal_agreed", created, office, goal.field, ""] += 1
            for step in goal.steps:
                counts["step_status", created, office, step.owner_side, step.status] += 1
    if agreement.status == AgreementStatus.CLOSED and agreement.closed_at is not None:
        closed = _day(agreement.closed_at)
        counts["closing_outcome", closed, office, agreement.outcome or "", ""] += 1
        counts["closing_answer", closed, office, "helped", agreement.helped or "not_answered"] += 1
        counts["closing_answer", closed, office, "easier_to_keep_going",
               agreement.easier_to_keep_going or "not_answered"] += 1  # fmt: skip
        for goal in agreement.goals:
            counts["goal_closed", closed, office, goal.field,
                   goal.attainment or "not_assessed"] += 1  # fmt: skip
    if agreement.status == AgreementStatus.ACTIVE and agreement.next_review_due is not None:
        counts["review_due", agreement.next_review_due, office, "", ""] += 1
    if agreement.status in OPEN and not (
        agreement.previous_id is not None and agreement.status in UNSIGNED
    ):
        counts["caseload", UNDATED, office, agreement.created_by, ""] += 1
    return counts


def review_counts(review: Review, agreement: Agreement, office: uuid.UUID) -> Counter[Key]:
    counts: Counter[Key] = Counter()
    day = _day(review.created_at)
    field_of = {step.id: goal.field for goal in agreement.goals for step in goal.steps}
    counts["review_held", day, office, "", ""] += 1
    for result in review.results:
        counts["review_result", day, office, field_of[result.step_id], result.result] += 1
    return counts


def referral_counts(referral: Referral, office: uuid.UUID) -> Counter[Key]:
    counts: Counter[Key] = Counter()
    if referral.created_at is None or not referral.history:
        return counts
    day, kind = _day(referral.created_at), referral.recipient_kind
    rank = max(FUNNEL_RANK.get(ReferralStatus(e.status), 0) for e in referral.history)
    counts["referral_stage", day, office, kind, "requested"] += 1
    for position, stage in enumerate(FUNNEL, start=1):
        if rank >= position:
            counts["referral_stage", day, office, kind, stage] += 1
    if referral.status in ENDED:
        counts["referral_status", day, office, kind, referral.status] += 1
    rejected = [e for e in referral.history if e.status == ReferralStatus.REJECTED]
    if rejected:
        counts["referral_rejection", day, office, kind, rejected[0].reason_code or "none"] += 1
    return counts


def note_timing(
    session: Session, referral: Referral, status: str, at: datetime, office: uuid.UUID
) -> None:
    """Keep the referral's first moments as its history grows, and the durations measured
    from its creation to them (the figures' percentiles read those)."""

    def earliest(current: datetime | None) -> datetime:
        return at if current is None or at < current else current

    if status in REACHED:
        referral.reached_at = earliest(referral.reached_at)
    day = _day(referral.created_at)
    if status in ANSWERS and referral.answered_at != earliest(referral.answered_at):
        referral.answered_at = at
        hours = (at - referral.created_at).total_seconds() / 3600.0
        set_value(session, "referral_to_first_answer", referral.id, day, office, hours)
    if status == ReferralStatus.STARTED and referral.started_at != earliest(referral.started_at):
        referral.started_at = at
        days = (at - referral.created_at).total_seconds() / 86400.0
        set_value(session, "referral_to_measure_start", referral.id, day, office, days)


def note_first_signing(session: Session, client: Client, at: datetime) -> None:
    """The person's first agreement got its second signature: first contact → signed."""
    if client.first_signed_at is not None and client.first_signed_at <= at:
        return
    client.first_signed_at = at
    days = (at - client.created_at).total_seconds() / 86400.0
    set_value(session, "contact_to_signed", client.id, _day(at), client.office_id, days)


def set_value(
    session: Session, metric: str, subject_id: uuid.UUID, day: date, office: uuid.UUID,
    value: float,
) -> None:  # fmt: skip
    """Write one measured duration now (one row per subject: nothing to contend for)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(FigureValue).values(
        metric=metric, subject_id=subject_id, day=day, office_id=office, value=value
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["metric", "subject_id"],
            set_={"day": day, "office_id": office, "value": value},
        )
    )


# -- keeping them ----------------------------------------------------------------------------


def recount(session: Session, before: Counter[Key], after: Counter[Key]) -> None:
    """Add ``after - before`` to the counts when the transaction commits."""
    pending: Counter[Key] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = Counter()
        event.listen(session, "before_commit", _apply_pending)
        event.listen(session, "after_rollback", _drop_pending)
    pending.update(after)
    pending.subtract(before)


def _drop_pending(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        pending.clear()


def _apply_pending(session: Session) -> None:
    pending: Counter[Key] | None = session.info.get(_PENDING)
    if not pending:
        return
    changes = sorted((key, n) for key, n in pending.items() if n)
    pending.clear()
    if changes:
        lock_for_commit(session)  # the audit chain's lock first, as every committer takes it
        apply_counts(session.connection(), changes)


def apply_counts(connection: Connection, changes: Iterable[tuple[Key, int]]) -> None:
    """Upsert ``n += delta`` for each key (rows at zero are left, harmless)."""
    rows = [
        {"metric": m, "day": d, "office_id": o, "key1": k1, "key2": k2, "n": n}
        for (m, d, o, k1, k2), n in changes
    ]
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(FigureCount)
    statement = statement.on_conflict_do_update(
        index_elements=["metric", "day", "office_id", "key1", "key2"],
        set_={"n": FigureCount.n + statement.excluded.n},
    )
    connection.execute(statement, rows)


__all__ = [
    "agreement_counts",
    "apply_counts",
    "note_first_signing",
    "note_timing",
    "recount",
    "referral_counts",
    "review_counts",
]
