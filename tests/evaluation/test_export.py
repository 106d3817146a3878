"""The cross-tenant evaluation export: suppression with the recomputation attack, the files
holding no personal field, and the CLI.

The attack reads only the published files: every published count and total is an equation
(a line sum of the site × label × measure grid), every "." an unknown. A hidden cell is
recomputable exactly when its unit vector lies in the row space of those equations over the
unknowns; the test decides that with exact rational arithmetic by comparing ranks (a
different method from the one the export protects with).
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from deploy.cli import main
from deploy.evaluation import EXPORT_TABLES, export_grid, write_export
from services.agreements.figures import Figures
from services.agreements.figures.suppression import Dimension, Grid, protect, with_totals
from services.agreements.figures.tables import FigureTable, count, label_column
from tests.fixtures.figures import FigureCases
from tests.fixtures.platform import Platform

# -- the attacker ---------------------------------------------------------------------------


def _rank(rows: list[list[Fraction]]) -> int:
    matrix = [row[:] for row in rows]
    rank, columns = 0, len(matrix[0]) if matrix else 0
    for column in range(columns):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        for r in range(len(matrix)):
            if r != rank and matrix[r][column] != 0:
                factor = matrix[r][column] / matrix[rank][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        rank += 1
    return rank


def recomputable(dimensions: list[Dimension], published: Mapping[tuple[str, ...], int | None]
                 ) -> set[tuple[str, ...]]:  # fmt: skip
    """The hidden cells the published totals give away."""
    unknown = sorted(c for c, v in published.items() if v is None)
    if not unknown:
        return set()
    position = {c: i for i, c in enumerate(unknown)}
    equations: list[list[Fraction]] = []
    for axis, dim in enumerate(dimensions):
        if dim.total is None:
            continue
        others = [d.indices for i, d in enumerate(dimensions) if i != axis]
        for fixed in itertools.product(*others):

            def cell(
                index: str, fixed: tuple[str, ...] = fixed, axis: int = axis
            ) -> tuple[str, ...]:
                return (*fixed[:axis], index, *fixed[axis:])

            line = [(cell(i), 1) for i in dim.categories] + [(cell(dim.total), -1)]
            row = [Fraction(0)] * len(unknown)
            for c, sign in line:
                if c in position:
                    row[position[c]] += sign
            if any(row):
                equations.append(row)
    base = _rank(equations)
    found = set()
    for c in unknown:
        probe = [Fraction(0)] * len(unknown)
        probe[position[c]] = Fraction(1)
        if _rank([*equations, probe]) == base:
            found.add(c)
    return found


def read_published(path: Path) -> tuple[list[str], dict[tuple[str, ...], int | None]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return header, {tuple(r[:-1]): (None if r[-1] == "." else int(r[-1])) for r in body}


# -- suppression ------------------------------------------------------------------------------


def sites(values: dict[str, dict[str, dict[str, int]]], source: str) -> list[Figures]:
    """Made-up figures of several sites for one table (label × measure counts)."""
    figures = []
    for site, rows in values.items():
        measures = sorted({m for row in rows.values() for m in row})
        table = FigureTable(source, source, source,
                            (label_column("outcome", "", ""), *(count(m, m, m) for m in measures)),
                            [{"outcome": label, **row} for label, row in rows.items()])  # fmt: skip
        figures.append(Figures(site, None, None, None, None, [table]))  # type: ignore[arg-type]
    return figures


def _outcomes(reached: int, broke_off: int, moved: int) -> dict[str, dict[str, int]]:
    return {"goals_reached": {"closed": reached}, "broke_off": {"closed": broke_off},
            "moved_away": {"closed": moved}}  # fmt: skip


SMALL = {
    "essen": _outcomes(3, 12, 9),
    "hamm": _outcomes(14, 2, 7),
    "leipzig": _outcomes(20, 11, 1),
    "stendal": _outcomes(6, 8, 30),
}


def test_primary_suppression_alone_gives_cells_away() -> None:
    """The attack works: with only the small cells hidden, the totals give them back."""
    spec = next(s for s in EXPORT_TABLES if s.name == "closing_outcomes")
    grid = export_grid(spec, sites(SMALL, "closing_outcomes"))
    hidden = {c for c, v in grid.values.items() if v < 5}
    published = {c: (None if c in hidden else v) for c, v in grid.values.items()}
    assert recomputable(list(grid.dimensions), published) == hidden


def test_no_suppressed_cell_can_be_recomputed() -> None:
    spec = next(s for s in EXPORT_TABLES if s.name == "closing_outcomes")
    grid = export_grid(spec, sites(SMALL, "closing_outcomes"))
    hidden = protect(grid)
    assert {c for c, v in grid.values.items() if v < 5} < hidden, "secondary cells added"
    published = {c: (None if c in hidden else v) for c, v in grid.values.items()}
    assert recomputable(list(grid.dimensions), published) == set()
    assert all(v >= 5 for v in published.values() if v is not None)


@pytest.mark.parametrize("seed", range(12))
def test_random_three_way_tables_hold(seed: int) -> None:
    """Site × label × measure with totals on all three: the hardest shape the export has."""
    import random

    rng = random.Random(seed)
    dims = [Dimension("site", ("a", "b", "c"), "all"), Dimension("label", ("x", "y", "z"), "t"),
            Dimension("measure", ("m", "n"), "t")]  # fmt: skip
    counts = {(s, lab, m): rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40])
              for s in ("a", "b", "c") for lab in ("x", "y", "z") for m in ("m", "n")}  # fmt: skip
    grid = Grid(tuple(dims), with_totals(dims, counts))
    hidden = protect(grid)
    published = {c: (None if c in hidden else v) for c, v in grid.values.items()}
    assert recomputable(dims, published) == set()
    assert all(v >= 5 for v in published.values() if v is not None)


# -- the export of real tenants ----------------------------------------------------------------


def test_the_export_files_hold_no_personal_field_and_resist_the_attack(
    figure_platform: tuple[Platform, FigureCases], tmp_path: Path
) -> None:
    platform, cases = figure_platform
    env = {"INTEGRA_HOME": str(platform.settings.home),
           "INTEGRA_TENANTS_DIR": str(_only_freiburg(platform, tmp_path))}  # fmt: skip
    if platform.settings.database_url is not None:
        env["INTEGRA_DATABASE_URL"] = platform.settings.database_url.render_as_string(False)
        env["INTEGRA_DATABASE_PREFIX"] = platform.settings.database_prefix
    out = tmp_path / "export"
    result = CliRunner().invoke(main, ["evaluation", "export", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sites"] == ["freiburg"] and manifest["threshold"] == 5

    everything = "\n".join(p.read_text(encoding="utf-8") for p in sorted(out.iterdir()))
    for given, family, birth in cases.names:
        assert given not in everything and family not in everything
        assert birth not in everything
    for forbidden in (*cases.clients.values(), "mbe-caritas", "client:", "user:"):
        assert forbidden not in everything

    for spec in EXPORT_TABLES:
        header, published = read_published(out / f"{spec.name}.csv")
        assert header[0] == "site" and header[-1] == "value"
        assert all(v is None or v >= 5 for v in published.values()), spec.name
        dims = _dimensions(header[:-1], published, spec)
        assert recomputable(dims, published) == set(), spec.name
    # the hand-counted cases are few: nearly everything is hidden, never shown below 5
    assert "." in (out / "closing_outcomes.csv").read_text()

    write_export([], tmp_path / "empty")  # no tenant: empty files, no crash


def _dimensions(names: list[str], published: Mapping[tuple[str, ...], int | None],
                spec: object) -> list[Dimension]:  # fmt: skip
    from deploy.evaluation import ALL_SITES, TOTAL

    dims = []
    for axis, name in enumerate(names):
        indices = list(dict.fromkeys(c[axis] for c in published))
        total = ALL_SITES if name == "site" else (
            TOTAL if TOTAL in indices else None)  # fmt: skip
        dims.append(Dimension(name, tuple(i for i in indices if i != total), total))
    return dims


def _only_freiburg(platform: Platform, tmp_path: Path) -> Path:
    registry = tmp_path / "registry"
    registry.mkdir()
    source = platform.settings.tenants_dir / "freiburg.toml"
    (registry / "freiburg.toml").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return registry
