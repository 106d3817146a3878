"""The figures of one tenant, each table computed by SQL aggregates in the tenant's database
(a handful of grouped statements, never a loop over cases in Python).

How each figure is counted is written beside it here and, at more length, in
docs/evaluation.md. Nothing read here names a person: only ids, offices, dates, statuses,
fields, outcomes and answers, which is also what the retention rule leaves of a closed case.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from ..db import utcnow
from ..models import Agreement, Client, Goal, Office, Referral, ReferralEvent, Review, Step
from ..models import ReviewStepResult as Result
from ..models.vocabulary import (
    AgencyKind,
    AgreementStatus,
    Attainment,
    CloseOutcome,
    ClosingAnswer,
    GoalField,
    OwnerSide,
    ReferralStatus,
    ReviewResult,
    StepStatus,
)
from .filters import FigureFilter
from .sql import percentiles, percentiles_of, seconds_between
from .tables import Chart, Column, FigureTable, count, label_column, rows_for, share

#: A review is listed as due this many days ahead of ``next_review_due``.
DUE_HORIZON = timedelta(days=30)
#: The first answer of an agency counts as prompt within this time (mbeon's promise).
PROMPT_ANSWER = timedelta(hours=48)
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
#: The funnel's stages and the rank of each history status on it: a referral has reached a
#: stage when any of its history entries ranks at least as high (an agency may answer
#: "accepted" without "received" first; a rejection means it was received; an aborted
#: measure had started).
FUNNEL = ("sent", "received", "accepted", "started", "completed")
_FUNNEL_RANK = {
    ReferralStatus.SENT: 1,
    ReferralStatus.RECEIVED: 2,
    ReferralStatus.REJECTED: 2,
    ReferralStatus.ACCEPTED: 3,
    ReferralStatus.SCHEDULED: 3,
    ReferralStatus.STARTED: 4,
    ReferralStatus.ABORTED: 4,
    ReferralStatus.COMPLETED: 5,
}
#: Versions whose goals and steps are the agreement's: signed by both (an amendment's copies
#: replace a superseded version's, so that one is not counted twice).
AGREED = (AgreementStatus.ACTIVE, AgreementStatus.CLOSED)
OPEN = (AgreementStatus.DRAFT, AgreementStatus.SIGNED, AgreementStatus.ACTIVE)


class FigureQueries:
    """The tables of one tenant under one filter (one session, read only)."""

    def __init__(self, session: Session, figure_filter: FigureFilter) -> None:
        self.session = session
        self.f = figure_filter
        self.dialect = session.get_bind().dialect.name

    # -- filters -------------------------------------------------------------------------

    def period(self, column: Any) -> list[ColumnElement[bool]]:
        conditions = []
        if self.f.start is not None:
            conditions.append(column >= self.f.start)
        if self.f.end is not None:
            conditions.append(column < self.f.end)
        return conditions

    def office(self) -> list[ColumnElement[bool]]:
        return [Client.office_id == self.f.office_id] if self.f.office_id is not None else []

    def in_office(self, client_id: Any) -> list[ColumnElement[bool]]:
        """The office filter without joining clients (a semi-join, only when filtering):
        the tables that do not group by office need no join over every case."""
        if self.f.office_id is None:
            return []
        return [client_id.in_(select(Client.id).where(Client.office_id == self.f.office_id))]

    def in_office_agreement(self, agreement_id: Any) -> list[ColumnElement[bool]]:
        if self.f.office_id is None:
            return []
        return [agreement_id.in_(select(Agreement.id).where(*self.in_office(Agreement.client_id)))]

    def offices(self) -> list[Office]:
        query = select(Office).order_by(Office.key)
        if self.f.office_id is not None:
            query = query.where(Office.id == self.f.office_id)
        return list(self.session.scalars(query))

    def _grouped(self, query: Select[Any, Any, Any]) -> dict[Any, dict[str, int]]:
        """``(row key, column key, count)`` rows as {row key: {column key: count}}."""
        found: dict[Any, dict[str, int]] = {}
        for row_key, column_key, number in self.session.execute(query):
            found.setdefault(row_key, {})[str(column_key)] = int(number)
        return found

    # -- agreements ------------------------------------------------------------------------

    def agreements_by_status(self) -> FigureTable:
        """Agreement versions created in the period, by their status today and office."""
        statuses = [s.value for s in AgreementStatus]
        found = self._grouped(
            select(Client.office_id, Agreement.status, func.count())
            .join(Client, Agreement.client_id == Client.id)
            .where(*self.period(Agreement.created_at), *self.office())
            .group_by(Client.office_id, Agreement.status)
        )
        rows = []
        for office in self.offices():
            counts = {s: found.get(office.id, {}).get(s, 0) for s in statuses}
            rows.append(
                {"office": office.key, "office_name": office.name, **counts,
                 "total": sum(counts.values())}
            )  # fmt: skip
        return FigureTable(
            "agreements_by_status",
            "Vereinbarungen nach Status und Beratungsstelle",
            "Agreements by status and office",
            (
                label_column("office", "Beratungsstelle (Schlüssel)", "Office (key)"),
                label_column("office_name", "Beratungsstelle", "Office"),
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
        agreed = self._grouped(
            select(Goal.field, literal_column("'agreed'"), func.count())
            .join(Agreement, Goal.agreement_id == Agreement.id)
            .where(
                Agreement.status.in_(AGREED),
                *self.period(Agreement.created_at),
                *self.in_office(Agreement.client_id),
            )
            .group_by(Goal.field)
        )
        reviewed = self._grouped(
            select(Goal.field, "review_" + Result.result, func.count())
            .join(Review, Result.review_id == Review.id)
            .join(Step, Result.step_id == Step.id)
            .join(Goal, Step.goal_id == Goal.id)
            .where(*self.period(Review.created_at), *self.in_office_agreement(Review.agreement_id))
            .group_by(Goal.field, Result.result)
        )
        attainment = func.coalesce(Goal.attainment, "not_assessed")
        closed = self._grouped(
            select(Goal.field, "closed_" + attainment, func.count())
            .join(Agreement, Goal.agreement_id == Agreement.id)
            .where(
                Agreement.status == AgreementStatus.CLOSED,
                *self.period(Agreement.closed_at),
                *self.in_office(Agreement.client_id),
            )
            .group_by(Goal.field, attainment)
        )
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
        found = self._grouped(
            select(Step.owner_side, Step.status, func.count())
            .join(Goal, Step.goal_id == Goal.id)
            .join(Agreement, Goal.agreement_id == Agreement.id)
            .where(
                Agreement.status.in_(AGREED),
                *self.period(Agreement.created_at),
                *self.in_office(Agreement.client_id),
            )
            .group_by(Step.owner_side, Step.status)
        )
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
        held = self._grouped(
            select(Client.office_id, literal_column("'held'"), func.count())
            .select_from(Review)
            .join(Agreement, Review.agreement_id == Agreement.id)
            .join(Client, Agreement.client_id == Client.id)
            .where(*self.period(Review.created_at), *self.office())
            .group_by(Client.office_id)
        )
        due_or_overdue = case((Agreement.next_review_due < today, "overdue"), else_="due")
        due = self._grouped(
            select(Client.office_id, due_or_overdue, func.count())
            .join(Client, Agreement.client_id == Client.id)
            .where(
                Agreement.status == AgreementStatus.ACTIVE,
                Agreement.next_review_due <= today + DUE_HORIZON,
                *self.office(),
            )
            .group_by(Client.office_id, due_or_overdue)
        )
        rows = []
        for office in self.offices():
            values = {"held": 0, "due": 0, "overdue": 0}
            values.update(held.get(office.id, {}))
            values.update(due.get(office.id, {}))
            rows.append({"office": office.key, "office_name": office.name, **values})
        return FigureTable(
            "reviews",
            "Überprüfungen: gehalten, fällig, überfällig",
            "Reviews: held, due, overdue",
            (
                label_column("office", "Beratungsstelle (Schlüssel)", "Office (key)"),
                label_column("office_name", "Beratungsstelle", "Office"),
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

    # -- referrals ---------------------------------------------------------------------------

    def _referrals_in_period(self) -> list[ColumnElement[bool]]:
        return [*self.period(Referral.created_at), *self.in_office(Referral.client_id)]

    def referral_funnel(self) -> FigureTable:
        rank = func.max(
            case(
                *((ReferralEvent.status == status, r) for status, r in _FUNNEL_RANK.items()),
                else_=0,
            )
        )
        per_referral = (
            select(Referral.id, Referral.recipient_kind, Referral.status, rank.label("rank"))
            .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
            .where(*self._referrals_in_period())
            .group_by(Referral.id, Referral.recipient_kind, Referral.status)
            .subquery()
        )
        stage_counts = [
            func.sum(case((per_referral.c.rank >= position, 1), else_=0))
            for position, _stage in enumerate(FUNNEL, start=1)
        ]
        status_counts = [
            func.sum(case((per_referral.c.status == status, 1), else_=0))
            for status in ("rejected", "withdrawn", "revoked")
        ]
        rows_found: dict[str, dict[str, int]] = {}
        for kind, total, *numbers in self.session.execute(
            select(per_referral.c.recipient_kind, func.count(), *stage_counts, *status_counts)
            .group_by(per_referral.c.recipient_kind)
        ):  # fmt: skip
            keys = ["requested", *FUNNEL, "rejected", "withdrawn", "revoked"]
            rows_found[kind] = dict(zip(keys, (int(total), *map(int, numbers)), strict=True))
        columns = ["requested", *FUNNEL, "rejected", "withdrawn", "revoked"]
        return FigureTable(
            "referral_funnel",
            "Weiterleitungen je Stelle: gesendet → erhalten → angenommen → begonnen → "
            "abgeschlossen",
            "Referrals per agency: sent → received → accepted → started → completed",
            (
                label_column("agency", "Stelle", "Agency", "agency"),
                count("requested", "angelegt", "requested"),
                count("sent", "gesendet", "sent"),
                count("received", "erhalten", "received"),
                count("accepted", "angenommen", "accepted"),
                count("started", "Maßnahme begonnen", "measure started"),
                count("completed", "abgeschlossen", "completed"),
                count("rejected", "abgelehnt", "rejected"),
                count("withdrawn", "zurückgezogen", "withdrawn"),
                count("revoked", "widerrufen", "revoked"),
            ),
            rows_for([k.value for k in AgencyKind], "agency", rows_found, columns),
            "Weiterleitungen, die im Zeitraum angelegt wurden; jede zählt auf jeder Stufe, die "
            "sie erreicht hat (eine Ablehnung heißt: erhalten).",
            "Referrals created in the period; each counts at every stage it reached (a "
            "rejection means it was received).",
            Chart("agency", FUNNEL),
        )

    def rejection_reasons(self) -> FigureTable:
        reason = func.coalesce(ReferralEvent.reason_code, "none")
        rows = [
            {"agency": kind, "reason_code": reason, "rejected": int(number)}
            for kind, reason, number in self.session.execute(
                select(
                    Referral.recipient_kind,
                    reason,
                    func.count(func.distinct(Referral.id)),
                )
                .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
                .where(ReferralEvent.status == ReferralStatus.REJECTED,
                       *self._referrals_in_period())
                .group_by(Referral.recipient_kind, reason)
                .order_by(Referral.recipient_kind, reason)
            )
        ]  # fmt: skip
        return FigureTable(
            "rejection_reasons",
            "Ablehnungen nach Grund",
            "Rejections by reason code",
            (
                label_column("agency", "Stelle", "Agency", "agency"),
                label_column("reason_code", "Grund (Code)", "Reason code"),
                count("rejected", "abgelehnt", "rejected"),
            ),
            rows,
            "Abgelehnte Weiterleitungen, die im Zeitraum angelegt wurden.",
            "Rejected referrals created in the period.",
            Chart("reason_code", ("rejected",)),
        )

    def durations(self) -> FigureTable:
        fractions = (0.5, 0.9)
        rows: list[dict[str, Any]] = []

        first_signed = (
            select(Agreement.client_id, func.min(Agreement.activated_at).label("at"))
            .where(Agreement.activated_at.is_not(None))
            .group_by(Agreement.client_id)
            .subquery("first_signed")
        )
        to_signed = (
            select(
                (seconds_between(self.dialect, Client.created_at, first_signed.c.at) / 86400.0)
                .label("value")
            )
            .join(first_signed, first_signed.c.client_id == Client.id)
            .where(*self.period(first_signed.c.at), *self.office())
            .subquery()
        )  # fmt: skip
        n, (median, p90) = percentiles(self.session, to_signed, "value", fractions)
        rows.append(_duration_row("contact_to_signed", "days", n, median, p90))

        # one pass over the referrals' history: when each was first answered, first reached
        # the agency (sent or answered) and its measure started
        def first(statuses: tuple[str, ...]) -> Any:
            return func.min(case((ReferralEvent.status.in_(statuses), ReferralEvent.at)))

        times = (
            select(
                Referral.id,
                Referral.created_at,
                first(tuple(ANSWERS)).label("answered_at"),
                first(("sent", *ANSWERS)).label("reached_at"),
                first((ReferralStatus.STARTED,)).label("started_at"),
            )
            .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
            .where(*self._referrals_in_period())
            .group_by(Referral.id, Referral.created_at)
            .subquery("referral_times")
        )
        hours = seconds_between(self.dialect, times.c.created_at, times.c.answered_at) / 3600.0
        days = seconds_between(self.dialect, times.c.created_at, times.c.started_at) / 86400.0
        values = select(
            hours.label("answer_hours"),
            days.label("start_days"),
            case((times.c.reached_at.is_not(None), 1), else_=0).label("reached"),
            case((hours <= PROMPT_ANSWER.total_seconds() / 3600.0, 1), else_=0).label("prompt"),
        ).subquery("referral_values")
        stats = percentiles_of(self.session, values, ("answer_hours", "start_days"), fractions)
        sent, prompt = self.session.execute(
            select(func.coalesce(func.sum(values.c.reached), 0),
                   func.coalesce(func.sum(values.c.prompt), 0))
        ).one()  # fmt: skip
        n, (median, p90) = stats["answer_hours"]
        row = _duration_row("referral_to_first_answer", "hours", n, median, p90)
        row.update(sent=int(sent), within_48h=int(prompt),
                   share_within_48h=share(int(prompt), int(sent)))  # fmt: skip
        rows.append(row)
        n, (median, p90) = stats["start_days"]
        rows.append(_duration_row("referral_to_measure_start", "days", n, median, p90))
        return FigureTable(
            "durations",
            "Dauern: Erstkontakt → Vereinbarung, Weiterleitung → erste Antwort, "
            "Weiterleitung → Maßnahmebeginn",
            "Durations: first contact → agreement, referral → first answer, "
            "referral → measure start",
            (
                label_column("measure", "Dauer", "Duration", "duration"),
                label_column("unit", "Einheit", "Unit"),
                count("n", "Fälle", "cases"),
                Column("median", "Median", "median", "number"),
                Column("p90", "90. Perzentil", "90th percentile", "number"),
                count("sent", "zugestellt", "reached the agency"),
                count("within_48h", "Antwort in 48 Std.", "answered within 48 h"),
                Column(
                    "share_within_48h", "Anteil in 48 Std. (%)", "share within 48 h (%)", "percent"
                ),
            ),
            rows,
            "Erstkontakt → Vereinbarung: von der Erfassung der Person bis zur zweiten "
            "Unterschrift ihrer ersten Vereinbarung (im Zeitraum). Weiterleitungen: die im "
            "Zeitraum angelegten; der Anteil in 48 Stunden bezieht sich auf die zugestellten.",
            "First contact → agreement: from registering the person to the second signature "
            "of their first agreement (in the period). Referrals: those created in the "
            "period; the 48-hour share is of those that reached the agency.",
        )

    # -- caseload and closing ------------------------------------------------------------------

    def _open_at_snapshot(self) -> list[ColumnElement[bool]]:
        moment = self.f.snapshot_at
        if moment >= utcnow():
            # at the end of today (or later) what is open is what has an open status now
            return [Agreement.status.in_(OPEN)]
        successor = aliased(Agreement)
        superseded = exists().where(
            successor.previous_id == Agreement.id, successor.activated_at < moment
        )
        return [
            Agreement.created_at < moment,
            or_(Agreement.closed_at.is_(None), Agreement.closed_at >= moment),
            ~superseded,
        ]

    def caseload(self) -> tuple[FigureTable, FigureTable]:
        open_cases = func.count(func.distinct(Agreement.client_id))
        by_office = {
            office_id: int(number)
            for office_id, number in self.session.execute(
                select(Client.office_id, open_cases)
                .join(Client, Agreement.client_id == Client.id)
                .where(*self._open_at_snapshot(), *self.office())
                .group_by(Client.office_id)
            )
        }
        names = {office.id: office for office in self.offices()}
        office_rows = [
            {"office": o.key, "office_name": o.name, "open_cases": by_office.get(o.id, 0)}
            for o in names.values()
        ]
        counsellor_rows = [
            {"office": names[office_id].key if office_id in names else str(office_id),
             "counsellor": _actor_name(actor), "open_cases": int(number)}
            for office_id, actor, number in self.session.execute(
                select(Client.office_id, Agreement.created_by, open_cases)
                .join(Client, Agreement.client_id == Client.id)
                .where(*self._open_at_snapshot(), *self.office())
                .group_by(Client.office_id, Agreement.created_by)
                .order_by(Client.office_id, Agreement.created_by)
            )
        ]  # fmt: skip
        note_de = (
            "Personen mit einer offenen Vereinbarung (Entwurf, teilweise unterschrieben oder "
            "aktiv) am Ende des Zeitraums."
        )
        note_en = (
            "People with an open agreement (draft, partly signed or active) at the end of the "
            "period."
        )
        return (
            FigureTable(
                "caseload_by_office",
                "Fallzahl je Beratungsstelle",
                "Caseload per office",
                (
                    label_column("office", "Beratungsstelle (Schlüssel)", "Office (key)"),
                    label_column("office_name", "Beratungsstelle", "Office"),
                    count("open_cases", "offene Fälle", "open cases"),
                ),
                office_rows,
                note_de,
                note_en,
                Chart("office_name", ("open_cases",)),
            ),
            FigureTable(
                "caseload_by_counsellor",
                "Fallzahl je Berater/in",
                "Caseload per counsellor",
                (
                    label_column("office", "Beratungsstelle (Schlüssel)", "Office (key)"),
                    label_column("counsellor", "Berater/in", "Counsellor"),
                    count("open_cases", "offene Fälle", "open cases"),
                ),
                counsellor_rows,
                note_de + " Gezählt bei der Person, die die offene Fassung angelegt hat.",
                note_en + " Counted for whoever drafted the open version.",
                Chart("counsellor", ("open_cases",)),
            ),
        )

    def _closed_in_period(self) -> list[ColumnElement[bool]]:
        return [
            Agreement.status == AgreementStatus.CLOSED,
            *self.period(Agreement.closed_at),
            *self.in_office(Agreement.client_id),
        ]

    def closing_outcomes(self) -> FigureTable:
        found: dict[str, dict[str, Any]] = {
            str(outcome): {"closed": int(number)}
            for outcome, number in self.session.execute(
                select(Agreement.outcome, func.count())
                .where(*self._closed_in_period())
                .group_by(Agreement.outcome)
            )
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
        rows = []
        for question, column in (
            ("helped", Agreement.helped),
            ("easier_to_keep_going", Agreement.easier_to_keep_going),
        ):
            found = {
                (answer or "not_answered"): int(number)
                for answer, number in self.session.execute(
                    select(column, func.count()).where(*self._closed_in_period()).group_by(column)
                )
            }
            row: dict[str, Any] = {"question": question}
            row.update({a: found.get(a, 0) for a in [*answers, "not_answered"]})
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


def _duration_row(
    measure: str, unit: str, n: int, median: float | None, p90: float | None
) -> dict[str, Any]:
    return {
        "measure": measure,
        "unit": unit,
        "n": n,
        "median": None if median is None else round(median, 1),
        "p90": None if p90 is None else round(p90, 1),
        "sent": None,
        "within_48h": None,
        "share_within_48h": None,
    }


def _actor_name(actor: str) -> str:
    """``user:jana`` → ``jana``; an API client stays ``client:<id>``."""
    return actor.removeprefix("user:")


def office_id_of(session: Session, key: str) -> uuid.UUID | None:
    return session.scalar(select(Office.id).where(Office.key == key))
