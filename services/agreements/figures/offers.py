"""The place for the offers directory's figures (issue 16: offers suggested, linked and used
per field). Another engineer provides ``offer_figures``; until then there are none.

Contract for the function that replaces this one: given the session and the filter, return
the tables (``FigureTable``) to add after the goals table, computed by SQL aggregates like
every other figure; the portal, the downloads and the evaluation export then show them with
no further change.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .filters import FigureFilter
from .tables import FigureTable


def offer_figures(session: Session, figure_filter: FigureFilter) -> list[FigureTable]:
    """Offers suggested/linked/used per field: not built here (issue 16)."""
    return []
