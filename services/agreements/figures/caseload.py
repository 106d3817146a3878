"""The caseload tables: the open cases per office and per counsellor at the end of the period
(a function of ``FigureQueries``, which holds the session, the filter and the shared helpers).
Up to today the running counts are exactly that; for an earlier moment the versions in force
then are counted from the agreements themselves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from ..db import utcnow
from ..models import Agreement, Client, FigureCount
from .queries import FigureQueries
from .tables import OFFICE_COLUMNS, Chart, FigureTable, count, label_column


def _in_force_at(moment: datetime) -> list[ColumnElement[bool]]:
    """Versions in force at ``moment``: created, not closed, not superseded by then, and
    not an amendment still waiting for its signatures (its predecessor is in force)."""
    successor = aliased(Agreement)
    superseded = exists().where(
        successor.previous_id == Agreement.id, successor.activated_at < moment
    )
    pending_amendment = and_(
        Agreement.previous_id.is_not(None),
        or_(Agreement.activated_at.is_(None), Agreement.activated_at >= moment),
    )
    return [
        Agreement.created_at < moment,
        or_(Agreement.closed_at.is_(None), Agreement.closed_at >= moment),
        ~superseded,
        ~pending_amendment,
    ]


def _caseload_rows(q: FigureQueries) -> list[Any]:
    """(office, who drafted the version in force, open cases)."""
    moment = q.f.snapshot_at
    if moment >= utcnow():  # the end of today or later: the kept counts are exactly that
        return q.counted("caseload", FigureCount.office_id, FigureCount.key1, dated=False)
    return list(
        q.session.execute(
            select(Client.office_id, Agreement.created_by, func.count())
            .join(Client, Agreement.client_id == Client.id)
            .where(*_in_force_at(moment), *q.office())
            .group_by(Client.office_id, Agreement.created_by)
        ).all()
    )


def caseload(q: FigureQueries) -> tuple[FigureTable, FigureTable]:
    names = {office.id: office for office in q.offices()}
    by_office: dict[uuid.UUID, int] = {}
    counsellor_rows = []
    for office_id, actor, number in sorted(_caseload_rows(q), key=lambda r: (str(r[0]), r[1])):
        if not number:
            continue
        by_office[office_id] = by_office.get(office_id, 0) + int(number)
        counsellor_rows.append(
            {"office": names[office_id].key if office_id in names else str(office_id),
             "counsellor": _actor_name(actor), "open_cases": int(number)}
        )  # fmt: skip
    office_rows = q.rows_by_office(
        {office_id: {"open_cases": n} for office_id, n in by_office.items()},
        ("open_cases",),
        names.values(),
    )
    note_de = (
        "Personen mit einer offenen Vereinbarung (Entwurf, teilweise unterschrieben oder "
        "aktiv) am Ende des Zeitraums."
    )
    note_en = (
        "People with an open agreement (draft, partly signed or active) at the end of the period."
    )
    return (
        FigureTable(
            "caseload_by_office",
            "Fallzahl je Beratungsstelle",
            "Caseload per office",
            (
                *OFFICE_COLUMNS,
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
                OFFICE_COLUMNS[0],
                label_column("counsellor", "Berater/in", "Counsellor"),
                count("open_cases", "offene Fälle", "open cases"),
            ),
            counsellor_rows,
            note_de + " Gezählt bei der Person, die die offene Fassung angelegt hat.",
            note_en + " Counted for whoever drafted the open version.",
            Chart("counsellor", ("open_cases",)),
        ),
    )


def _actor_name(actor: str) -> str:
    """``user:jana`` → ``jana``; an API client stays ``client:<id>``."""
    return actor.removeprefix("user:")
