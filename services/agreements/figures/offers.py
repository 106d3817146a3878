"""The offer directory's table among the figures: per goal field, the offers suggested, linked
to a step and used (``offers.operations.figures`` counts them by SQL, each client and offer
once, in the period where it first happened)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from sqlalchemy.orm import Session

from ..models.vocabulary import GoalField
from ..offers.operations.figures import offer_figures as count_offers
from .filters import FigureFilter
from .tables import Chart, FigureTable, count, label_column, rows_for

#: An open period starts before any offer could have been suggested.
EARLIEST = date(2000, 1, 1)


def offer_figures(session: Session, figure_filter: FigureFilter) -> list[FigureTable]:
    counted = count_offers(
        session,
        date_from=figure_filter.period_from or EARLIEST,
        date_to=figure_filter.period_to or figure_filter.today,
        office_id=figure_filter.office_id,
    )
    found = {field: asdict(figures) for field, figures in counted.items()}
    columns = ["suggested", "linked", "used"]
    return [
        FigureTable(
            "offers_by_field",
            "Angebote nach Bereich: vorgeschlagen, verknüpft, genutzt",
            "Offers by field: suggested, linked, used",
            (
                label_column("field", "Bereich", "Field", "goal_field"),
                count("suggested", "vorgeschlagen", "suggested"),
                count("linked", "mit einem Schritt verknüpft", "linked to a step"),
                count("used", "genutzt", "used"),
            ),
            rows_for([f.value for f in GoalField], "field", found, columns),
            "Je Person und Angebot einmal, im Zeitraum, in dem es zuerst geschah: vorgeschlagen "
            "(zuerst angezeigt), verknüpft (erste Fassung mit der Verknüpfung), genutzt (erste "
            "Überprüfung, die den Schritt erledigt fand).",
            "Each person and offer once, in the period where it first happened: suggested "
            "(first shown), linked (first version with the link), used (first review that "
            "found the step done).",
            Chart("field", tuple(columns)),
        )
    ]
