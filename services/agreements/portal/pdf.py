"""The agreement as a PDF (WeasyPrint): the standard text in German and, side by side, in
the client's language (right-to-left set for Arabic and Persian), the goals and steps as
entered, signature lines and dates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import render_template

from ..models import Agreement, Client
from ..models.vocabulary import OwnerSide
from .document_texts import DOCUMENT_LANGUAGES, RTL_LANGUAGES, TEXTS


def supported_document_language(languages: Iterable[str]) -> str:
    """The first of the client's languages the document exists in; English otherwise."""
    return next((lang for lang in languages if lang in DOCUMENT_LANGUAGES), "en")


def agreement_html(agreement: Agreement, client: Client, office_name: str, lang: str) -> str:
    if lang not in DOCUMENT_LANGUAGES:
        lang = "en"
    return render_template(
        "portal/agreement_document.html",
        agreement=agreement,
        client=client,
        office_name=office_name,
        de=TEXTS["de"],
        other=TEXTS[lang],
        lang=lang,
        rtl=lang in RTL_LANGUAGES,
        client_side=OwnerSide.CLIENT.value,
    )


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    """The document is self-contained; WeasyPrint fetches nothing (no SSRF, no self-call)."""
    raise ValueError(f"agreement documents load no resources: {url}")


def render_agreement_pdf(
    agreement: Agreement, client: Client, office_name: str, lang: str
) -> bytes:
    from weasyprint import HTML  # heavy import (Pango, fonts): only when a PDF is asked for

    html = HTML(string=agreement_html(agreement, client, office_name, lang), url_fetcher=_no_fetch)
    pdf: bytes = html.write_pdf()
    return pdf
