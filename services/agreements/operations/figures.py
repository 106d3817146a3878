"""Reading the figures: who may, for which office, under which filter.

Office leads, tenant admins and evaluators read the figures; counsellors do not. An office
lead reads their own office's figures only (asking for another office is refused, asking for
none gives their own). No table names a person, so the evaluator, who reads no case data,
reads these; like the office and partner lists they are not personal data, so reading them
writes no audit entry.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ..errors import Forbidden, InvalidInput
from ..figures import FigureFilter, Figures, compute_figures
from ..figures.queries import office_id_of
from ..models import Office
from ..models.vocabulary import Role
from ..principal import Principal

FIGURE_ROLES = (Role.OFFICE_LEAD, Role.TENANT_ADMIN, Role.EVALUATOR)


def read_figures(
    session: Session,
    principal: Principal,
    *,
    today: date,
    period_from: date | None = None,
    period_to: date | None = None,
    office_key: str | None = None,
) -> Figures:
    principal.require_role(*FIGURE_ROLES)
    if period_from and period_to and period_from > period_to:
        raise InvalidInput(
            "invalid_period",
            "Der Zeitraum endet vor seinem Beginn.",
            "The period ends before it starts.",
            fields={"to": ["must not be before from"]},
        )
    office_id = None
    if principal.role == Role.OFFICE_LEAD:
        own = session.get(Office, principal.office_id) if principal.office_id else None
        if own is None or (office_key is not None and office_key != own.key):
            raise Forbidden(
                "office_not_allowed",
                "Eine Leitung sieht die Zahlen ihrer eigenen Beratungsstelle.",
                "An office lead reads the figures of their own office.",
            )
        office_id, office_key = own.id, own.key
    elif office_key is not None:
        office_id = office_id_of(session, office_key)
        if office_id is None:
            raise InvalidInput(
                "unknown_office",
                "Diese Beratungsstelle gibt es hier nicht.",
                "There is no such office here.",
                fields={"office": ["unknown office key"]},
            )
    figure_filter = FigureFilter(
        today=today, period_from=period_from, period_to=period_to, office_id=office_id
    )
    figures = compute_figures(session, principal.tenant, figure_filter, office_key)
    return figures
