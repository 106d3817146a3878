"""Bar charts of the figures as SVG, rendered on the server: no script (the portal's CSP
allows none), colours from classes in the portal's stylesheet, and every chart followed by
the same numbers as a table (the chart itself is one image to assistive technology)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

from .tables import FigureTable

WIDTH = 680
LABEL_WIDTH = 220
VALUE_WIDTH = 44
BAR_HEIGHT = 16
GAP = 10
LEGEND_ROW = 22


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def bar_chart(
    table: FigureTable,
    *,
    lang: str,
    translate: Callable[[str | None, Any], str],
    chart_id: str,
) -> Markup | None:
    """The table's chart (``table.chart``) as inline SVG, or None when it has none or no
    rows. ``translate(vocabulary, code)`` gives a row label or series name for display."""
    spec = table.chart
    if spec is None or not table.rows:
        return None
    series = [table.column(key) for key in spec.values]
    label_column = table.column(spec.label)
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    if spec.stacked:
        totals = [sum(_number(row.get(s.key)) for s in series) for row in table.rows]
        group_height = float(BAR_HEIGHT)
    else:
        totals = [max(_number(row.get(s.key)) for s in series) for row in table.rows]
        group_height = float(BAR_HEIGHT * len(series))
    scale = area / max(max(totals, default=0.0), 1.0)
    legend_height = LEGEND_ROW * ((len(series) + 2) // 3)
    height = int(legend_height + len(table.rows) * (group_height + GAP) + GAP)
    title = escape(table.title(lang))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{title}</title>',
    ]
    for index, column in enumerate(series):
        legend_x = (index % 3) * (WIDTH // 3)
        legend_y = (index // 3) * LEGEND_ROW
        parts.append(
            f'<rect class="series-{index}" x="{legend_x}" y="{legend_y + 4}" width="12" '
            f'height="12"/><text class="chart-legend" x="{legend_x + 18}" y="{legend_y + 15}">'
            f"{escape(column.label(lang))}</text>"
        )
    y = float(legend_height + GAP)
    for row, total in zip(table.rows, totals, strict=True):
        name = translate(label_column.vocabulary, row.get(spec.label))
        parts.append(
            f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{y + group_height / 2 + 5}" '
            f'text-anchor="end">{escape(_shorten(name))}</text>'
        )
        x = float(LABEL_WIDTH)
        for index, column in enumerate(series):
            value = _number(row.get(column.key))
            width = value * scale
            bar_y = y if spec.stacked else y + index * BAR_HEIGHT
            if width > 0:
                parts.append(
                    f'<rect class="series-{index}" x="{x:.1f}" y="{bar_y}" '
                    f'width="{width:.1f}" height="{BAR_HEIGHT - 2}"/>'
                )
            if spec.stacked:
                x += width
            else:
                parts.append(
                    f'<text class="chart-value" x="{LABEL_WIDTH + width + 4:.1f}" '
                    f'y="{bar_y + BAR_HEIGHT - 4}">{_format(row.get(column.key))}</text>'
                )
        if spec.stacked:
            parts.append(
                f'<text class="chart-value" x="{x + 4:.1f}" y="{y + BAR_HEIGHT - 4}">'
                f"{_format(total)}</text>"
            )
        y += group_height + GAP
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in it is escaped above)


def _format(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "–" if value is None else str(value)


def _shorten(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
