"""A fresh Freiburg with the hand-computed cases, once per module and backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.figures import FigureCases, fresh_platform, seed_figure_cases
from tests.fixtures.platform import Platform


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def figure_platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> Iterator[tuple[Platform, FigureCases]]:
    backend = request.param
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    tag = f"{run_id}_{request.module.__name__.rsplit('.', 1)[-1][5:13]}"
    with fresh_platform(backend, tmp_path_factory.mktemp("figures"), url, tag) as platform:
        yield platform, seed_figure_cases(platform)
