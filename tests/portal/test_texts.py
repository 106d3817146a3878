"""German is the default language: its catalog must be complete and compiled; the printed
agreement's standard text must exist in full in every offered language."""

from __future__ import annotations

import pytest
from babel.messages.mofile import read_mo

from services.agreements.portal.document_texts import DOCUMENT_LANGUAGES, RTL_LANGUAGES, TEXTS
from services.agreements.portal.translations import catalog


def test_every_message_has_a_german_translation() -> None:
    extracted = {m.id for m in catalog.extract() if m.id}
    german = {m.id: m.string for m in catalog.load("de") if m.id}
    assert extracted - set(german) == set(), "run the catalog update"
    assert [m for m in extracted if not german[m]] == []


def test_the_compiled_german_catalog_matches_the_po_file() -> None:
    with catalog.po_path("de").with_suffix(".mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    source = {m.id: m.string for m in catalog.load("de") if m.id}
    assert compiled == source, (
        "recompile: python -m services.agreements.portal.translations.catalog"
    )


@pytest.mark.parametrize("lang", DOCUMENT_LANGUAGES)
def test_document_text_is_complete(lang: str) -> None:
    assert set(TEXTS[lang]) == set(TEXTS["de"])
    assert all(value.strip() for value in TEXTS[lang].values())


def test_required_languages_and_direction() -> None:
    assert {"en", "ar", "fa", "tr", "ru", "uk"} <= set(DOCUMENT_LANGUAGES)
    assert {"ar", "fa"} == RTL_LANGUAGES
