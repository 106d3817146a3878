"""`integra migrate --all` in worker processes: every tenant created and migrated, a failing
tenant reported while the others go on, and the exit status says that one failed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from deploy.cli import main
from deploy.tenant_data import present_schemas
from tenants.databases import drop_prefix
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.live import SHIPPED_REGISTRY

pytestmark = pytest.mark.postgres

HEALTHY = ("wetzlar", "stendal", "hamm")


def integra(env: dict[str, str], *args: str) -> Result:
    keep = {key: None for key in ("INTEGRA_CONFIG", "INTEGRA_BROKER_URL")}
    return CliRunner().invoke(main, list(args), env={**keep, **env}, catch_exceptions=False)


@pytest.fixture
def env(postgres_url: str, run_id: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Three pilot tenants and one whose database server refuses connections."""
    registry = tmp_path / "registry"
    registry.mkdir()
    for slug in HEALTHY:
        shutil.copy(SHIPPED_REGISTRY / f"{slug}.toml", registry)
    broken = (SHIPPED_REGISTRY / "essen.toml").read_text().replace('"essen"', '"kaputt"')
    broken = re.sub(
        r"(?m)^\[database\]$",
        '[database]\nurl = "postgresql://postgres@127.0.0.1:1/nowhere"',
        broken,
    )
    (registry / "kaputt.toml").write_text(broken)
    env = {
        "INTEGRA_HOME": str(tmp_path),
        "INTEGRA_TENANTS_DIR": str(registry),
        "INTEGRA_DATABASE_URL": postgres_url,
        "INTEGRA_DATABASE_PREFIX": f"migall_{run_id}",
    }
    yield env
    drop_prefix(load_settings(env))


def test_a_failing_tenant_is_reported_and_the_others_are_migrated(env: dict[str, str]) -> None:
    result = integra(env, "migrate", "--all", "--workers", "2")
    assert result.exit_code == 1
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}
    assert rows == {
        "hamm": "created",
        "kaputt": "FAILED",
        "stendal": "created",
        "wetzlar": "created",
    }
    assert "kaputt" in result.stdout and "Connection refused" in result.stdout
    assert "1 of 4 tenant(s) failed: kaputt" in result.stderr
    settings = load_settings(env)
    registry = load_registry(settings.tenants_dir)
    for slug in HEALTHY:
        assert len(present_schemas(settings, registry.require(slug))) == 4

    # the healthy ones alone: up to date, exit 0
    again = integra(env, "migrate", *HEALTHY, "--workers", "2")
    assert again.exit_code == 0, again.output
    assert {line.split()[1] for line in again.stdout.splitlines()} == {"up"}  # "up to date"


def test_migrate_refuses_names_and_all_together(env: dict[str, str]) -> None:
    result = integra(env, "migrate", "--all", "hamm")
    assert result.exit_code == 1
    assert "name tenants or give --all, not both" in result.stderr
