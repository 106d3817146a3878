"""The figures of referrals and durations: the funnel per agency kind, rejections by
reason, and the three durations with the 48-hour share (functions of ``FigureQueries``,
which holds the session, the filter and the shared helpers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ..models import FigureCount, FigureValue
from ..models.vocabulary import AgencyKind
from .counts import FUNNEL
from .queries import PROMPT_ANSWER, FigureQueries
from .sql import percentiles
from .tables import Chart, Column, FigureTable, count, label_column, rows_for, share


def referral_funnel(q: FigureQueries) -> FigureTable:
    rows_found = q.counted_by("referral_stage", FigureCount.key1, FigureCount.key2)
    for kind, values in q.counted_by("referral_status", FigureCount.key1, FigureCount.key2).items():
        rows_found.setdefault(kind, {}).update(values)
    columns = ["requested", *FUNNEL, "rejected", "withdrawn", "revoked"]
    return FigureTable(
        "referral_funnel",
        "Weiterleitungen je Stelle: gesendet → erhalten → angenommen → begonnen → abgeschlossen",
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


def rejection_reasons(q: FigureQueries) -> FigureTable:
    rows = [
        {"agency": kind, "reason_code": reason, "rejected": int(n)}
        for kind, reason, n in sorted(
            q.counted("referral_rejection", FigureCount.key1, FigureCount.key2)
        )
        if n
    ]
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


def durations(q: FigureQueries) -> FigureTable:
    fractions = (0.5, 0.9)
    rows: list[dict[str, Any]] = []

    def measured(metric: str) -> Any:
        return (
            select(FigureValue.value.label("value"))
            .where(FigureValue.metric == metric, *q.value_filter())
            .subquery(metric)
        )

    n, (median, p90) = percentiles(q.session, measured("contact_to_signed"), "value",
                                   fractions)  # fmt: skip
    rows.append(duration_row("contact_to_signed", "days", n, median, p90))

    n, (median, p90) = percentiles(q.session, measured("referral_to_first_answer"),
                                   "value", fractions)  # fmt: skip
    row = duration_row("referral_to_first_answer", "hours", n, median, p90)
    # the 48-hour share, of the referrals that reached the agency (sent or answered)
    sent = sum(int(n or 0) for _k, n in q.counted("referral_stage", FigureCount.key2)
               if _k == "sent")  # fmt: skip
    prompt = (
        q.session.scalar(
            select(func.count()).where(
                FigureValue.metric == "referral_to_first_answer",
                FigureValue.value <= PROMPT_ANSWER.total_seconds() / 3600.0,
                *q.value_filter(),
            )
        )
        or 0
    )
    row.update(sent=sent, within_48h=int(prompt),
               share_within_48h=share(int(prompt), sent))  # fmt: skip
    rows.append(row)
    n, (median, p90) = percentiles(q.session, measured("referral_to_measure_start"),
                                   "value", fractions)  # fmt: skip
    rows.append(duration_row("referral_to_measure_start", "days", n, median, p90))
    return FigureTable(
        "durations",
        "Dauern: Erstkontakt → Vereinbarung, Weiterleitung → erste Antwort, "
        "Weiterleitung → Maßnahmebeginn",
        "Durations: first contact → agreement, referral → first answer, referral → measure start",
        (
            label_column("measure", "Dauer", "Duration", "duration"),
            label_column("unit", "Einheit", "Unit"),
            count("n", "Fälle", "cases"),
            Column("median", "Median", "median", "number"),
            Column("p90", "90. Perzentil", "90th percentile", "number"),
            count("sent", "zugestellt", "reached the agency"),
            count("within_48h", "Antwort in 48 Std.", "answered within 48 h"),
            Column("share_within_48h", "Anteil in 48 Std. (%)", "share within 48 h (%)", "percent"),
        ),
        rows,
        "Erstkontakt → Vereinbarung: von der Erfassung der Person bis zur zweiten "
        "Unterschrift ihrer ersten Vereinbarung (im Zeitraum). Weiterleitungen: die im "
        "Zeitraum angelegten; der Anteil in 48 Stunden bezieht sich auf die zugestellten.",
        "First contact → agreement: from registering the person to the second signature "
        "of their first agreement (in the period). Referrals: those created in the "
        "period; the 48-hour share is of those that reached the agency.",
    )


def duration_row(
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
