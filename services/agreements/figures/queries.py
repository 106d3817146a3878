"""The figures of one tenant, each table computed by SQL aggregates in the tenant's database
(a handful of grouped statements, never a loop over cases in Python): the counts from the
running counts kept with every change (``figures.counts``), filtered by day and office; the
durations from the first moments the clients and referrals carry; reviews due and overdue
from the agreements' ``next_review_due`` (indexed).

How each figure is counted is written beside it here and, at more length, in
docs/evaluation.md. Nothing read here names a person: only ids, offices, dates, statuses,
fields, outcomes and answers, which is also what the retention rule leaves of a closed case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from ..models import Client, FigureCount, FigureValue, Office
from ..models.vocabulary import (
    AgreementStatus,
    Attainment,
    CloseOutcome,
    ClosingAnswer,
    GoalField,
    OwnerSide,
    ReviewResult,
    StepStatus,
)
from .filters import FigureFilter
from .tables import (
    OFFICE_COLUMNS,
    Chart,
    Column,
    FigureTable,
    count,
    label_column,
    rows_for,
    share,
)

#: A review is listed as due this many days ahead of ``next_review_due``.
DUE_HORIZON = timedelta(days=30)
#: The first answer of an agency counts as prompt within this time (mbeon's promise).
PROMPT_ANSWER = timedelta(hours=48)


class FigureQueries:
    """The tables of one tenant under one filter (one session, read only)."""

    def __init__(self, session: Session, figure_filter: FigureFilter) -> None:
        self.session = session
        self.f = figure_filter
        self.dialect = session.get_bind().dialect.name

    # -- filters -------------------------------------------------------------------------

    def office(self) -> list[ColumnElement[bool]]:
        return [Client.office_id == self.f.office_id] if self.f.office_id is not None else []

    def value_filter(self) -> list[ColumnElement[bool]]:
        """The period's days and the office, on the measured durations."""
        where: list[ColumnElement[bool]] = []
        if self.f.period_from is not None:
            where.append(FigureValue.day >= self.f.period_from)
        if self.f.period_to is not None:
            where.append(FigureValue.day <= self.f.period_to)
        if self.f.office_id is not None:
            where.append(FigureValue.office_id == self.f.office_id)
        return where

    def offices(self) -> list[Office]:
        query = select(Office).order_by(Office.key)
        if self.f.office_id is not None:
            query = query.where(Office.id == self.f.office_id)
        return list(self.session.scalars(query))

    def rows_by_office(
        self,
        found: dict[Any, dict[str, int]],
        zero: Sequence[str],
        offices: Iterable[Office] | None = None,
    ) -> list[dict[str, Any]]:
        """One row per office (``offices``, or the filter's), named by :data:`OFFICE_COLUMNS`:
        what ``found`` holds for it by office id, and 0 for each of ``zero`` it lacks."""
        return [
            {"office": o.key, "office_name": o.name} | dict.fromkeys(zero, 0) | found.get(o.id, {})
            for o in (self.offices() if offices is None else offices)
        ]

    def counted(self, metric: str, *group: Any, dated: bool = True) -> list[Any]:
        """The running counts of ``metric`` (``figure_counts``), summed by ``group`` over the
        period's days and the office."""
        where: list[ColumnElement[bool]] = [FigureCount.metric == metric]
        if dated and self.f.period_from is not None:
            where.append(FigureCount.day >= self.f.period_from)
        if dated and self.f.period_to is not None:
            where.append(FigureCount.day <= self.f.period_to)
        if self.f.office_id is not None:
            where.append(FigureCount.office_id == self.f.office_id)
        query = select(*group, func.sum(FigureCount.n)).where(*where).group_by(*group)
        return list(self.session.execute(query).all())

    def counted_by(
        self, metric: str, row: Any, column: Any, prefix: str = ""
    ) -> dict[Any, dict[str, int]]:
        """{row key: {prefix + column key: count}}."""
        found: dict[Any, dict[str, int]] = {}
        for row_key, column_key, number in self.counted(metric, row, column):
            found.setdefault(row_key, {})[prefix + str(column_key)] = int(number)
        return found

    # -- agreements ------------------------------------------------------------------------

    def agreements_by_status(self) -> FigureTable:
        """Agreement versions created in the period, by their status today and office."""
        statuses = [s.value for s in AgreementStatus]
        found = self.counted_by("agreement_status", FigureCount.office_id, FigureCount.key1)
        rows = self.rows_by_office(found, statuses)
        for row in rows:
            row["total"] = sum(row[s] for s in statuses)
        return FigureTable(
            "agreements_by_status",
            "Vereinbarungen nach Status und Beratungsstelle",
            "Agreements by status and office",
            (
                *OFFICE_COLUMNS,
                count("draft", "Entwurf", "Draft"),
                count("signed", "teilweise unterschrieben", "Partly signed"),
                count("active", "aktiv", "Active"),
                count("superseded", "fortgeschrieben", "Superseded"),
                count("closed", "abgeschlossen", "Closed"),
                count("total", "insgesamt", "Total"),
            ),
            rows,
            "Fassungen, die im Zeitraum angelegt wurden, nach ihrem heutigen Status.",
            "Versions created in the period, by their status today.",
            Chart("office_name", tuple(statuses), stacked=True),
        )

    def goals_by_field(self) -> FigureTable:
        fields = [f.value for f in GoalField]
        agreed = {
            field: {"agreed": int(n)} for field, n in self.counted("goal_agreed", FigureCount.key1)
        }
        reviewed = self.counted_by("review_result", FigureCount.key1, FigureCount.key2, "review_")
        closed = self.counted_by("goal_closed", FigureCount.key1, FigureCount.key2, "closed_")
        merged: dict[str, dict[str, int]] = {}
        for part in (agreed, reviewed, closed):
            for key, values in part.items():
                merged.setdefault(key, {}).update(values)
        review_columns = [f"review_{r.value}" for r in ReviewResult]
        closed_columns = [f"closed_{a.value}" for a in Attainment] + ["closed_not_assessed"]
        return FigureTable(
            "goals_by_field",
            "Ziele nach Bereich: vereinbart, bei Überprüfungen, beim Abschluss",
            "Goals by field: agreed, at reviews, at closing",
            (
                label_column("field", "Bereich", "Field", "goal_field"),
                count("agreed", "vereinbart", "agreed"),
                count("review_done", "Überprüfung: erledigt", "review: done"),
                count("review_partly", "Überprüfung: teilweise", "review: partly"),
                count("review_not_done", "Überprüfung: nicht erledigt", "review: not done"),
                count("closed_reached", "Abschluss: erreicht", "closing: reached"),
                count("closed_partly", "Abschluss: teilweise", "closing: partly"),
                count("closed_not_reached", "Abschluss: nicht erreicht", "closing: not reached"),
                count("closed_not_assessed", "Abschluss: ohne Angabe", "closing: not assessed"),
            ),
            rows_for(fields, "field", merged, ["agreed", *review_columns, *closed_columns]),
            "Vereinbart: Ziele der im Zeitraum angelegten, beidseitig unterschriebenen "
            "Fassungen. Überprüfung: Ergebnisse der Schritte je Ziel bei Überprüfungen im "
            "Zeitraum. Abschluss: Ziele der im Zeitraum abgeschlossenen Vereinbarungen.",
            "Agreed: goals of versions created in the period and signed by both. Review: the "
            "results of each goal's steps at reviews held in the period. Closing: goals of "
            "agreements closed in the period.",
            Chart("field", tuple(closed_columns), stacked=True),
        )

    def steps_by_side(self) -> FigureTable:
        sides = [s.value for s in OwnerSide]
        statuses = [s.value for s in StepStatus]
        found = self.counted_by("step_status", FigureCount.key1, FigureCount.key2)
        rows = rows_for(sides, "side", found, statuses)
        for row in rows:
            row["total"] = sum(row[s] for s in statuses)
            row["share_done"] = share(row["done"], row["total"])
        return FigureTable(
            "steps_by_side",
            "Schritte nach Seite (Klient/in, Institution)",
            "Steps by side (client, institution)",
            (
                label_column("side", "Seite", "Side", "owner_side"),
                count("open", "offen", "open"),
                count("done", "erledigt", "done"),
                count("partly", "teilweise", "partly"),
                count("not_done", "nicht erledigt", "not done"),
                count("total", "insgesamt", "total"),
                Column("share_done", "Anteil erledigt (%)", "share done (%)", "percent"),
            ),
            rows,
            "Schritte der im Zeitraum angelegten, beidseitig unterschriebenen Fassungen, "
            "mit ihrem Stand nach der letzten Überprüfung.",
            "Steps of versions created in the period and signed by both, as of their last review.",
            Chart("side", ("done", "partly", "not_done", "open"), stacked=True),
        )

    # -- reviews ---------------------------------------------------------------------------

    def reviews(self) -> FigureTable:
        today = self.f.today
        held = {
            office_id: {"held": int(n)}
            for office_id, n in self.counted("review_held", FigureCount.office_id)
        }
        # the day each active agreement's review is due, counted as it is set
        due_day = FigureCount.day
        when = case((due_day < today, "overdue"), else_="due")
        due_where = [FigureCount.metric == "review_due", due_day <= today + DUE_HORIZON]
        if self.f.office_id is not None:
            due_where.append(FigureCount.office_id == self.f.office_id)
        due: dict[Any, dict[str, int]] = {}
        for office_id, kind, number in self.session.execute(
            select(FigureCount.office_id, when, func.sum(FigureCount.n))
            .where(*due_where)
            .group_by(FigureCount.office_id, when)
        ):
            due.setdefault(office_id, {})[kind] = int(number)
        for office_id, counts in held.items():
            due.setdefault(office_id, {}).update(counts)
        rows = self.rows_by_office(due, ("held", "due", "overdue"))
        return FigureTable(
            "reviews",
            "Überprüfungen: gehalten, fällig, überfällig",
            "Reviews: held, due, overdue",
            (
                *OFFICE_COLUMNS,
                count("held", "gehalten im Zeitraum", "held in the period"),
                count("due", "fällig in 30 Tagen", "due within 30 days"),
                count("overdue", "überfällig", "overdue"),
            ),
            rows,
            "Gehalten: Überprüfungen im Zeitraum. Fällig und überfällig: aktive "
            "Vereinbarungen nach ihrem nächsten Überprüfungstermin, Stand heute.",
            "Held: reviews in the period. Due and overdue: active agreements by their next "
            "review date, as of today.",
            Chart("office_name", ("held", "due", "overdue")),
        )

    # -- closing ----------------------------------------------------------------------------

    def closing_outcomes(self) -> FigureTable:
        found: dict[str, dict[str, Any]] = {
            str(outcome): {"closed": int(number)}
            for outcome, number in self.counted("closing_outcome", FigureCount.key1)
        }
        rows = rows_for([o.value for o in CloseOutcome], "outcome", found, ["closed"])
        total = sum(row["closed"] for row in rows)
        for row in rows:
            row["share"] = share(row["closed"], total)
        return FigureTable(
            "closing_outcomes",
            "Abschlüsse nach Ergebnis",
            "Closing outcomes",
            (
                label_column("outcome", "Ergebnis", "Outcome", "outcome"),
                count("closed", "abgeschlossen", "closed"),
                Column("share", "Anteil (%)", "share (%)", "percent"),
            ),
            rows,
            "Im Zeitraum abgeschlossene Vereinbarungen.",
            "Agreements closed in the period.",
            Chart("outcome", ("closed",)),
        )

    def closing_answers(self) -> FigureTable:
        answers = [a.value for a in ClosingAnswer]
        found = self.counted_by("closing_answer", FigureCount.key1, FigureCount.key2)
        rows = []
        for question in ("helped", "easier_to_keep_going"):
            row: dict[str, Any] = {"question": question}
            row.update({a: found.get(question, {}).get(a, 0) for a in [*answers, "not_answered"]})
            row["answered"] = sum(row[a] for a in answers)
            row["share_yes"] = share(row["yes"], row["answered"])
            rows.append(row)
        return FigureTable(
            "closing_answers",
            "Die zwei Fragen beim Abschluss",
            "The two closing questions",
            (
                label_column("question", "Frage", "Question", "closing_question"),
                count("yes", "ja", "yes"),
                count("partly", "teils", "partly"),
                count("no", "nein", "no"),
                count("not_answered", "keine Antwort", "not answered"),
                count("answered", "geantwortet", "answered"),
                Column("share_yes", "Anteil ja (%)", "share yes (%)", "percent"),
            ),
            rows,
            "Antworten bei den im Zeitraum abgeschlossenen Vereinbarungen; der Anteil „ja“ "
            "bezieht sich auf die Antworten (im Modellprojekt: 59,2 % und 37,3 %).",
            "Answers at agreements closed in the period; the share of 'yes' is of those who "
            "answered (in the model project: 59.2 % and 37.3 %).",
            Chart("question", ("yes", "partly", "no", "not_answered"), stacked=True),
        )


def office_id_of(session: Session, key: str) -> uuid.UUID | None:
    return session.scalar(select(Office.id).where(Office.key == key))
