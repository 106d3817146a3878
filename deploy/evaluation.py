"""The cross-tenant evaluation export (``integra evaluation export``): the figures of every
tenant as aggregates per site and for all sites, small cells suppressed.

Only counts by closed vocabularies leave (statuses, fields, agency kinds, reason codes,
outcomes, answers), per site slug and summed over all sites; offices and counsellors are not
in it, nor anything else that could name a person. Every count table is protected by
``services.agreements.figures.suppression`` as one grid site × category × measure, so the
per-site files and the all-sites totals cannot be combined to recompute a hidden cell.
Durations are published per site only, and only where at least five cases stand behind them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from services.agreements.db import utcnow
from services.agreements.figures import FigureFilter, Figures, compute_figures
from services.agreements.figures.render import SUPPRESSED
from services.agreements.figures.suppression import (
    THRESHOLD,
    Dimension,
    Grid,
    protect,
    published,
    with_totals,
)
from tenants.databases import create_tenant_engine
from tenants.registry import Tenant
from tenants.settings import Settings

ALL_SITES = "all_sites"
TOTAL = "total"


@dataclass(frozen=True)
class ExportTable:
    """One published table, drawn from one figures table of every site.

    ``label``: the figures column whose codes become a dimension (None: the site's rows are
    summed, e.g. over its offices). ``measures``: the count columns. Whether the totals over
    labels and over measures are published (they are only where they mean something: the
    funnel's stages overlap, so they get no total).
    """

    name: str
    source: str
    label: str | None
    measures: tuple[str, ...]
    label_total: bool = True
    measure_total: bool = False
    row_filter: tuple[str, str] | None = None


EXPORT_TABLES = (
    ExportTable("agreements_by_status", "agreements_by_status", None,
                ("draft", "signed", "active", "superseded", "closed"), measure_total=True),
    ExportTable("goals_by_field", "goals_by_field", "field",
                ("agreed", "review_done", "review_partly", "review_not_done", "closed_reached",
                 "closed_partly", "closed_not_reached", "closed_not_assessed")),
    ExportTable("steps_by_side", "steps_by_side", "side",
                ("open", "done", "partly", "not_done"), measure_total=True),
    ExportTable("reviews", "reviews", None, ("held", "due", "overdue")),
    ExportTable("referral_funnel", "referral_funnel", "agency",
                ("requested", "sent", "received", "accepted", "started", "completed",
                 "rejected", "withdrawn", "revoked")),
    ExportTable("rejection_reasons", "rejection_reasons", "reason_code", ("rejected",)),
    ExportTable("referral_answers_48h", "durations", None, ("sent", "within_48h"),
                row_filter=("measure", "referral_to_first_answer")),
    ExportTable("caseload", "caseload_by_office", None, ("open_cases",)),
    ExportTable("closing_outcomes", "closing_outcomes", "outcome", ("closed",)),
    ExportTable("closing_answers", "closing_answers", "question",
                ("yes", "partly", "no", "not_answered"), label_total=False, measure_total=True),
)  # fmt: skip


def tenant_figures(settings: Settings, tenant: Tenant, figure_filter: FigureFilter) -> Figures:
    engine = create_tenant_engine(settings, tenant, pool_size=1)
    try:
        with Session(engine) as session:
            return compute_figures(session, tenant.slug, figure_filter)
    finally:
        engine.dispose()


def export_grid(spec: ExportTable, figures: Iterable[Figures]) -> Grid:
    """The table's counts over site × label × measure, totals included."""
    counts: dict[tuple[str, ...], int] = {}
    labels: list[str] = []
    sites: list[str] = []
    for site in figures:
        sites.append(site.tenant)
        for row in site.table(spec.source).rows:
            if spec.row_filter and row.get(spec.row_filter[0]) != spec.row_filter[1]:
                continue
            label = str(row[spec.label]) if spec.label else None
            if label is not None and label not in labels:
                labels.append(label)
            for measure in spec.measures:
                key = tuple(k for k in (site.tenant, label, measure) if k is not None)
                counts[key] = counts.get(key, 0) + int(row.get(measure) or 0)
    dimensions = [Dimension("site", tuple(sites), ALL_SITES)]
    if spec.label:
        dimensions.append(Dimension(spec.label, tuple(labels), TOTAL if spec.label_total else None))
    dimensions.append(Dimension("measure", spec.measures, TOTAL if spec.measure_total else None))
    return Grid(tuple(dimensions), with_totals(dimensions, counts))


def _write_csv(path: Path, header: list[str], rows: Iterable[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


@dataclass(frozen=True)
class ExportSummary:
    sites: list[str]
    tables: dict[str, dict[str, int]]  # name → {"cells", "primary", "secondary"}


def write_export(
    figures: list[Figures], out: Path, *, threshold: int = THRESHOLD,
    protect_cells: bool = True,
) -> ExportSummary:  # fmt: skip
    """Write every table to ``out``: one CSV per table (long format: site, label, measure,
    value; "." where suppressed), ``durations.csv`` and ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, dict[str, int]] = {}
    for spec in EXPORT_TABLES:
        grid = export_grid(spec, figures)
        primary_cells = {c for c, v in grid.values.items() if v < threshold}
        hidden = protect(grid, threshold) if protect_cells else primary_cells
        values = published(grid, hidden)
        header = [d.name for d in grid.dimensions] + ["value"]
        _write_csv(
            out / f"{spec.name}.csv",
            header,
            ([*cell, SUPPRESSED if value is None else value] for cell, value in values.items()),
        )
        summary[spec.name] = {
            "cells": len(values),
            "primary": len(primary_cells),
            "secondary": len(hidden - primary_cells),
        }
    _write_csv(out / "durations.csv", ["site", "measure", "unit", "n", "median", "p90"],
               _duration_rows(figures, threshold))  # fmt: skip
    manifest = {
        "generated_at": utcnow().isoformat(),
        "period": {
            "from": _iso(figures[0].period_from) if figures else None,
            "to": _iso(figures[0].period_to) if figures else None,
        },
        "sites": [f.tenant for f in figures],
        "threshold": threshold,
        "suppressed_cell": SUPPRESSED,
        "tables": summary,
        "note": "Counts per site and for all sites; every count under the threshold is "
        "suppressed, and further cells so that none can be recomputed from the totals.",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return ExportSummary([f.tenant for f in figures], summary)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _duration_rows(figures: list[Figures], threshold: int) -> Iterable[list[Any]]:
    for site in figures:
        for row in site.table("durations").rows:
            enough = int(row["n"]) >= threshold
            yield [
                site.tenant,
                row["measure"],
                row["unit"],
                row["n"] if enough else SUPPRESSED,
                row["median"] if enough and row["median"] is not None else SUPPRESSED,
                row["p90"] if enough and row["p90"] is not None else SUPPRESSED,
            ]
