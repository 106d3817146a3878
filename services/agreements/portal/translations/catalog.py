"""Maintain the portal's message catalogs: ``python -m services.agreements.portal.translations
.catalog`` extracts the messages (Python and templates), merges them into each language's
.po file and compiles the .mo files that Flask-Babel loads.

Message ids are English; German is the default language, so its catalog must be complete
(``tests/portal/test_translations.py`` checks that).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

SERVICE = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LANGUAGES = ("de", "en")
METHODS = [
    ("portal/**.py", "python"),
    ("identity/**.py", "python"),
    ("portal/templates/**.html", "jinja2.ext:babel_extract"),
    ("offers/**.py", "python"),
    ("offers/templates/**.html", "jinja2.ext:babel_extract"),
]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    template = Catalog(project="integra-portal", fuzzy=False)
    options = {
        "portal/templates/**.html": {"extensions": "jinja2.ext.i18n"},
        "offers/templates/**.html": {"extensions": "jinja2.ext.i18n"},
    }
    for filename, lineno, message, comments, context in extract_from_dir(
        str(SERVICE), METHODS, options_map=options, keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_path(lang: str) -> Path:
    return HERE / lang / "LC_MESSAGES" / "messages.po"


def load(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, project="integra-portal")
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def update() -> None:
    template = extract()
    for lang in LANGUAGES:
        catalog = load(lang)
        catalog.update(template, no_fuzzy_matching=True)
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, omit_header=False, no_location=True, sort_output=True,
                     ignore_obsolete=True)  # fmt: skip
        compile_catalog(lang)


def compile_catalog(lang: str) -> None:
    catalog = load(lang)
    with (po_path(lang).with_suffix(".mo")).open("wb") as fh:
        write_mo(fh, catalog)


if __name__ == "__main__":
    update()
