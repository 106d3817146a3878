"""The data access export (Art. 15 GDPR) as a PDF: the same content as the JSON, every table
and every column, set as readable lists (WeasyPrint, nothing fetched)."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template

#: Headings of the export's sections, German first.
SECTION_TITLES = {
    "clients": ("Person", "Person"),
    "consents": ("Einwilligungen", "Consents"),
    "assessments": ("Erfassungen", "Assessments"),
    "agreements": ("Vereinbarungen", "Agreements"),
    "goals": ("Ziele", "Goals"),
    "steps": ("Schritte", "Steps"),
    "reviews": ("Überprüfungen", "Reviews"),
    "review_step_results": ("Ergebnisse der Überprüfungen", "Review results"),
    "referrals": ("Weiterleitungen", "Referrals"),
    "referral_events": ("Verlauf der Weiterleitungen", "Referral history"),
    "outbox_messages": ("An Stellen gesendete Nachrichten", "Messages sent to agencies"),
    "audit_events": ("Protokoll der Zugriffe", "Access log"),
    "figure_values": ("Für die Kennzahlen gemessene Dauern", "Durations measured for the figures"),
}


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=1)
    return "–" if value is None else str(value)


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError(f"the data access export loads no resources: {url}")


def render_data_access_pdf(data: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    html = render_template(
        "portal/data_access_document.html",
        data=data,
        titles=SECTION_TITLES,
        shown=_shown,
    )
    pdf: bytes = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    return pdf
