"""The figures' table model: what the JSON, the CSV and XLSX downloads, the charts and the
evaluation export all render. A table is columns (each with a German and an English label
and a kind) and rows of plain values; nothing in it names a person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

ColumnKind = Literal["label", "count", "number", "percent"]


@dataclass(frozen=True)
class Column:
    key: str
    de: str
    en: str
    kind: ColumnKind = "count"
    #: For a label column: the vocabulary its codes come from (the portal translates them).
    vocabulary: str | None = None

    def label(self, lang: str) -> str:
        return self.de if lang == "de" else self.en


@dataclass(frozen=True)
class Chart:
    """Which columns a bar chart of the table shows, one bar group per row."""

    label: str
    values: tuple[str, ...]
    stacked: bool = False


@dataclass
class FigureTable:
    key: str
    title_de: str
    title_en: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: How the table is counted, in a sentence (shown under it; docs/evaluation.md has more).
    note_de: str = ""
    note_en: str = ""
    chart: Chart | None = None

    def title(self, lang: str) -> str:
        return self.title_de if lang == "de" else self.title_en

    def note(self, lang: str) -> str:
        return self.note_de if lang == "de" else self.note_en

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def value_rows(self) -> list[list[Any]]:
        return [[row.get(c.key) for c in self.columns] for row in self.rows]


@dataclass
class Figures:
    """Every table of one tenant for one period and (optionally) one office."""

    tenant: str
    period_from: date | None
    period_to: date | None
    office: str | None
    as_of: date
    tables: list[FigureTable]

    def table(self, key: str) -> FigureTable:
        return next(t for t in self.tables if t.key == key)


def count(key: str, de: str, en: str) -> Column:
    return Column(key, de, en, "count")


def label_column(key: str, de: str, en: str, vocabulary: str | None = None) -> Column:
    return Column(key, de, en, "label", vocabulary)


#: The two columns that name an office, in every table by office.
OFFICE_COLUMNS = (
    label_column("office", "Beratungsstelle (Schlüssel)", "Office (key)"),
    label_column("office_name", "Beratungsstelle", "Office"),
)


def share(part: int, whole: int) -> float | None:
    """A percentage with one decimal, or None when there is nothing to divide by."""
    return round(100.0 * part / whole, 1) if whole else None


def rows_for(
    keys: Sequence[str], label_key: str, found: dict[str, dict[str, Any]], zero: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per key in vocabulary order (zeros included), then any unexpected keys."""
    rows = []
    for key in [*keys, *sorted(k for k in found if k not in keys)]:
        row = {label_key: key, **{column: 0 for column in zero}}
        row.update(found.get(key, {}))
        rows.append(row)
    return rows
