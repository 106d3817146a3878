"""Small-cell suppression for published tables, with secondary suppression so that no
suppressed cell can be recomputed from the published totals.

A published table is a grid of counts over several dimensions (site × category × ...), where
some dimensions are *additive*: their totals are published too (the total over all
categories, the sum over all sites). Every published total is a line sum, so what an
attacker can do with the published numbers is solve those line equations for the hidden
cells.

Primary suppression hides every cell under the threshold (totals included). Secondary
suppression then makes every hidden cell a corner of a fully hidden *box*: two indices in
each additive dimension (a total counts as an index), one in every other. Adding +1 and −1
alternately on a box's corners changes no line sum (with the totals' signs flipped, every
line of such a table sums to zero), so the published numbers are equally consistent with
every hidden corner one higher or one lower: none of them can be recomputed, however the
equations are combined. For each hidden cell not yet on a hidden box, the box that hides the
least besides is chosen (greedy, deterministic).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Cell = tuple[str, ...]

#: Every cell under this is hidden (the Federal Employment Agency's own minimum is 3).
THRESHOLD = 5


@dataclass(frozen=True)
class Dimension:
    name: str
    categories: tuple[str, ...]
    #: The key of this dimension's total (published), or None if it has none.
    total: str | None = None

    @property
    def indices(self) -> tuple[str, ...]:
        return (*self.categories, self.total) if self.total else self.categories


@dataclass
class Grid:
    """Counts over dimensions; ``values`` must hold every cell, totals included."""

    dimensions: tuple[Dimension, ...]
    values: dict[Cell, int]

    def cells(self) -> list[Cell]:
        return list(itertools.product(*(d.indices for d in self.dimensions)))


def with_totals(dimensions: Sequence[Dimension], counts: Mapping[Cell, int]) -> dict[Cell, int]:
    """Every cell of the grid from the category cells: each additive dimension's total is
    the sum over its categories (totals of totals included)."""
    values: dict[Cell, int] = {}
    for cell in itertools.product(*(d.indices for d in dimensions)):
        ranges = [
            d.categories if (d.total is not None and index == d.total) else (index,)
            for d, index in zip(dimensions, cell, strict=True)
        ]
        values[cell] = sum(counts.get(inner, 0) for inner in itertools.product(*ranges))
    return values


def primary(grid: Grid, threshold: int = THRESHOLD) -> set[Cell]:
    return {cell for cell, value in grid.values.items() if value < threshold}


def _boxes(grid: Grid, cell: Cell) -> list[list[Cell]]:
    """Every box with ``cell`` as a corner: a partner index in each additive dimension."""
    choices = [
        [i for i in d.indices if i != index] if d.total is not None else [index]
        for d, index in zip(grid.dimensions, cell, strict=True)
    ]
    boxes = []
    for partners in itertools.product(*choices):
        pairs = [
            (own, partner) if d.total is not None else (own,)
            for d, own, partner in zip(grid.dimensions, cell, partners, strict=True)
        ]
        boxes.append([corner for corner in itertools.product(*pairs)])
    return boxes


def protect(grid: Grid, threshold: int = THRESHOLD) -> set[Cell]:
    """The cells to hide: primary, plus secondary so each hidden cell is on a hidden box."""
    hidden = primary(grid, threshold)
    covered: set[Cell] = set()
    if not any(d.total is not None for d in grid.dimensions):
        return hidden  # no published totals: nothing to recompute from
    for cell in sorted(hidden, key=lambda c: (grid.values[c], c)):
        if cell in covered:
            continue
        best: tuple[int, int, list[Cell]] | None = None
        for box in _boxes(grid, cell):
            new = [c for c in box if c not in hidden]
            cost = (sum(grid.values[c] for c in new), len(new))
            if best is None or cost < best[:2]:
                best = (cost[0], cost[1], box)
        if best is None:
            continue  # a dimension with a single index: no box, and no line to solve
        hidden.update(best[2])
        covered.update(best[2])
    return hidden


def published(grid: Grid, hidden: set[Cell]) -> dict[Cell, int | None]:
    """The grid as published: hidden cells as None (shown as "." in the files)."""
    return {cell: (None if cell in hidden else value) for cell, value in grid.values.items()}
