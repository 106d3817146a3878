"""Figures of a tenant: the programme's monitoring and evaluation instrument.

``compute_figures`` runs every table's SQL aggregates in the tenant's own database under one
filter (period, office); ``render`` turns them into CSV and XLSX, ``charts`` into SVG, and
``suppression`` protects them for the cross-tenant evaluation export.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from . import caseload, referral_tables
from .filters import FigureFilter
from .offers import offer_figures
from .queries import FigureQueries
from .sql import tune_for_aggregates
from .tables import Figures, FigureTable

__all__ = ["FigureFilter", "FigureTable", "Figures", "compute_figures"]


def compute_figures(
    session: Session, tenant: str, figure_filter: FigureFilter, office_key: str | None = None
) -> Figures:
    """Every table, in the order the portal shows them. Reads only; no audit entry is
    needed, since no table names a person."""
    tune_for_aggregates(session)
    queries = FigureQueries(session, figure_filter)
    caseload_by_office, caseload_by_counsellor = caseload.caseload(queries)
    tables: list[FigureTable] = [
        queries.agreements_by_status(),
        queries.goals_by_field(),
        *offer_figures(session, figure_filter),
        queries.steps_by_side(),
        queries.reviews(),
        referral_tables.referral_funnel(queries),
        referral_tables.rejection_reasons(queries),
        referral_tables.durations(queries),
        caseload_by_office,
        caseload_by_counsellor,
        queries.closing_outcomes(),
        queries.closing_answers(),
    ]
    return Figures(
        tenant=tenant,
        period_from=figure_filter.period_from,
        period_to=figure_filter.period_to,
        office=office_key,
        as_of=figure_filter.today,
        tables=tables,
    )
