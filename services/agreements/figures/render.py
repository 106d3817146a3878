"""The same tables as downloads: CSV (one section per table) and XLSX (one sheet per table).

XLSX with openpyxl: one library writes the workbook and reads it back in the tests, so what
is checked is the file a coordinator opens; the tables are small (tens of rows), where
XlsxWriter's speed would not matter and its being write-only would mean a second library to
read the file.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .tables import Figures, FigureTable

#: How a statistics office shows a suppressed cell (the evaluation export).
SUPPRESSED = "."

CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    return "" if value is None else value


def header_lines(figures: Figures, lang: str) -> list[list[str]]:
    de = lang == "de"
    return [
        ["Mandant" if de else "Tenant", figures.tenant],
        ["Zeitraum von" if de else "Period from", str(figures.period_from or "")],
        ["Zeitraum bis" if de else "Period to", str(figures.period_to or "")],
        ["Beratungsstelle" if de else "Office", figures.office or ""],
        ["Stand" if de else "As of", figures.as_of.isoformat()],
    ]


def table_to_rows(table: FigureTable, lang: str) -> list[list[Any]]:
    """Title, header, data rows."""
    return [
        [table.title(lang)],
        [column.label(lang) for column in table.columns],
        *([_cell(v) for v in row] for row in table.value_rows()),
    ]


def figures_csv(figures: Figures, lang: str = "de") -> str:
    """Every table as a section: its title, its header, its rows, a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(header_lines(figures, lang))
    for table in figures.tables:
        writer.writerow([])
        writer.writerows(table_to_rows(table, lang))
    return out.getvalue()


def figures_xlsx(figures: Figures, lang: str = "de") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    info = book.active
    assert info is not None
    info.title = "Info"
    for line in header_lines(figures, lang):
        info.append(line)
    for table in figures.tables:
        sheet = book.create_sheet(title=table.key[:31])
        for row in table_to_rows(table, lang):
            sheet.append(row)
        sheet["A1"].font = Font(bold=True)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
