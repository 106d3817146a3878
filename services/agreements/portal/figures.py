"""The figures pages for office leads, tenant admins and evaluators: the tables with their
charts (SVG rendered here; the CSP allows no script), a filter form, and the downloads; and
the client's data access export (Art. 15) behind the button on the client page."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from flask import Blueprint, Response, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, get_locale
from markupsafe import Markup

from ..context import commit, db_session
from ..data_access_pdf import render_data_access_pdf
from ..db import utcnow
from ..figures.charts import bar_chart
from ..figures.render import CSV_MIMETYPE, XLSX_MIMETYPE, figures_csv, figures_xlsx
from ..figures.tables import FigureTable
from ..operations import offices
from ..operations.data_access import export_client_data
from ..operations.figures import read_figures
from . import labels
from .messages import explain


def _day(name: str, errors: dict[str, str]) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = explain(name, "YYYY-MM-DD")
        return None


def translate(vocabulary: str | None, code: Any) -> str:
    if code is None:
        return "–"
    if vocabulary in labels.ALL:
        return labels.label(vocabulary, str(code))
    if vocabulary in labels.FIGURE_LABELS:
        return str(labels.FIGURE_LABELS[vocabulary].get(str(code), code))
    return str(code)


def _lang() -> str:
    return "en" if getattr(get_locale(), "language", "de") == "en" else "de"


def register(bp: Blueprint) -> None:
    @bp.get("/figures")
    def figures_page() -> ResponseReturnValue:
        errors: dict[str, str] = {}
        period_from, period_to = _day("from", errors), _day("to", errors)
        office_key = (request.args.get("office") or "").strip() or None
        fmt = request.args.get("format", "html")
        session = db_session()
        figures = read_figures(
            session, g.principal, today=utcnow().date(), period_from=period_from,
            period_to=period_to, office_key=office_key,
        )  # fmt: skip
        commit()
        lang = _lang()
        if fmt in ("csv", "xlsx"):
            name = f"kennzahlen_{figures.tenant}.{fmt}"
            body: str | bytes = figures_csv(figures, lang) if fmt == "csv" else figures_xlsx(
                figures, lang)  # fmt: skip
            mimetype = f"{CSV_MIMETYPE}; charset=utf-8" if fmt == "csv" else XLSX_MIMETYPE
            disposition = f'attachment; filename="{name}"'
            return Response(body, mimetype=mimetype,
                            headers={"Content-Disposition": disposition})  # fmt: skip
        charts: dict[str, Markup | None] = {
            table.key: bar_chart(
                table, lang=lang, translate=translate, chart_id=f"chart-{table.key}"
            )
            for table in figures.tables
        }
        query = {k: v for k, v in (("from", period_from), ("to", period_to),
                                   ("office", figures.office)) if v}  # fmt: skip
        return render_template(
            "portal/figures.html",
            figures=figures,
            charts=charts,
            lang=lang,
            translate=translate,
            errors=errors,
            query=query,
            office_options={o.key: o.name for o in offices.list_offices(session)},
            shown=_shown,
        ), (422 if errors else 200)

    @bp.get("/clients/<uuid:client_id>/export")
    def client_export(client_id: uuid.UUID) -> ResponseReturnValue:
        """Art. 15: everything stored about the client, as PDF (default) or JSON."""
        data = export_client_data(db_session(), g.principal, client_id)
        commit()
        if request.args.get("format") == "json":
            disposition = f'attachment; filename="auskunft-{client_id}.json"'
            return Response(
                json.dumps(data, ensure_ascii=False, indent=1),
                mimetype="application/json",
                headers={"Content-Disposition": disposition},
            )
        return Response(
            render_data_access_pdf(data),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="auskunft-{client_id}.pdf"'},
        )


def _shown(table: FigureTable, key: str, value: Any) -> str:
    column = table.column(key)
    if column.kind == "label":
        return translate(column.vocabulary, value)
    if value is None:
        return "–"
    if column.kind == "percent":
        return format_decimal(value, "0.0") + "\u00a0%"
    if column.kind == "number":
        return format_decimal(value, "0.0")
    if isinstance(value, int):
        return format_decimal(value)  # 1.234 in German, 1,234 in English
    return str(value)
