"""``/api/v1/figures``: the tenant's figures as JSON, or the same tables as CSV or XLSX.

A blueprint of its own, nested under the API's (``app.py``), so it shares the API's bearer
authentication, error format and OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..context import current_principal
from ..db import utcnow
from ..figures.render import CSV_MIMETYPE, XLSX_MIMETYPE, figures_csv, figures_xlsx
from ..operations.figures import read_figures
from ..schemas.figures import FiguresQuerySchema, FiguresSchema
from .api.edge import attachment, call_and_commit, documented, nested_blueprint

DOWNLOADS = {
    200: {
        "content": {
            CSV_MIMETYPE: {"schema": {"type": "string"}},
            XLSX_MIMETYPE: {"schema": {"type": "string", "format": "binary"}},
        }
    }
}


def download_name(tenant: str, query: dict[str, Any], extension: str) -> str:
    period = "-".join(str(query[k]) for k in ("period_from", "period_to") if query.get(k))
    parts = ["kennzahlen", tenant, period, query.get("office") or ""]
    return "_".join(p for p in parts if p) + f".{extension}"


class FiguresResource(MethodView):
    @documented(200, FiguresSchema, query=FiguresQuerySchema, downloads=DOWNLOADS)
    def get(self, query: dict[str, Any]) -> Any:
        """The figures for a period (``from``, ``to``) and office; ``format=csv|xlsx``
        downloads the same tables. Office leads (their own office), tenant admins and
        evaluators."""
        figures = call_and_commit(
            read_figures,
            today=utcnow().date(),
            period_from=query.get("period_from"),
            period_to=query.get("period_to"),
            office_key=query.get("office"),
        )
        fmt, lang = query["format"], query["lang"]
        if fmt == "json":
            return figures
        if fmt == "csv":
            body: str | bytes = figures_csv(figures, lang)
            mimetype = f"{CSV_MIMETYPE}; charset=utf-8"
        else:
            body, mimetype = figures_xlsx(figures, lang), XLSX_MIMETYPE
        return attachment(body, mimetype, download_name(current_principal().tenant, query, fmt))


def make_figures_blueprint() -> Blueprint:
    return nested_blueprint(
        "figures",
        "Figures of the tenant (monitoring and evaluation): aggregates only.",
        [("/figures", FiguresResource)],
    )
