"""`integra tenant add`: one safe command. Idempotent, and when PostgreSQL or RabbitMQ refuses
a step midway, what the run created is removed again and the error names the step."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from deploy.cli import main
from deploy.tenant_data import data_present, present_schemas
from tenants.databases import drop_prefix
from tenants.registry import load_tenant_file
from tenants.settings import Settings, load_settings
from tests.fixtures.live import SHIPPED_REGISTRY

pytestmark = pytest.mark.postgres


def new_tenant_file(folder: Path, slug: str = "neustadt", name: str = "Stadt Neustadt") -> Path:
    """A registry file of a municipality not in the registry yet, in the pilots' shape."""
    source = (SHIPPED_REGISTRY / "freiburg.toml").read_text()
    source = re.sub(r'(?m)^slug = ".*"$', f'slug = "{slug}"', source)
    source = re.sub(r'(?m)^name = "Stadt Freiburg im Breisgau"$', f'name = "{name}"', source)
    source = re.sub(r'(?m)^vhost = ".*"$', f'vhost = "addtest.{slug}"', source)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.toml"
    path.write_text(source)
    return path


def integra(env: dict[str, str], *args: str) -> Result:
    keep = {key: None for key in ("INTEGRA_CONFIG", "INTEGRA_BROKER_URL")}
    return CliRunner().invoke(main, list(args), env={**keep, **env}, catch_exceptions=False)


@pytest.fixture
def env(postgres_url: str, run_id: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    registry = tmp_path / "registry"
    registry.mkdir()
    shutil.copy(SHIPPED_REGISTRY / "essen.toml", registry)
    env = {
        "INTEGRA_HOME": str(tmp_path),
        "INTEGRA_TENANTS_DIR": str(registry),
        "INTEGRA_DATABASE_URL": postgres_url,
        "INTEGRA_DATABASE_PREFIX": f"addtest_{run_id}_{tmp_path.name[-6:].lower()}",
    }
    env["INTEGRA_DATABASE_PREFIX"] = re.sub(r"[^a-z0-9_]", "_", env["INTEGRA_DATABASE_PREFIX"])
    yield env
    drop_prefix(load_settings(env))


def test_add_twice_is_nothing_to_do(env: dict[str, str], tmp_path: Path) -> None:
    file = new_tenant_file(tmp_path / "incoming")
    settings = load_settings(env)
    first = integra(env, "tenant", "add", str(file))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("added neustadt (schema ")
    tenant = load_tenant_file(settings.tenants_dir / "neustadt.toml")
    assert len(present_schemas(settings, tenant)) == 4  # the service and three connectors

    again = integra(env, "tenant", "add", str(file))
    assert again.exit_code == 0, again.output
    assert "neustadt: nothing to do" in again.stdout

    # another file with the same slug is a conflict, not an update: nothing changes
    other = new_tenant_file(tmp_path / "other", name="Stadt Neustadt an der Weinstraße")
    refused = integra(env, "tenant", "add", str(other))
    assert refused.exit_code == 1
    assert "exists with a different registry file" in refused.stderr
    assert (settings.tenants_dir / "neustadt.toml").read_bytes() == file.read_bytes()


def test_add_refused_by_the_broker_rolls_everything_back(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The bus is the last step: the databases, keys and registry file made before it go."""
    refused_env = {
        **env,
        "INTEGRA_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/",
        "INTEGRA_BROKER_MANAGEMENT_URL": "http://127.0.0.1:1",
    }
    settings = load_settings(refused_env)
    file = new_tenant_file(tmp_path / "incoming")
    result = integra(refused_env, "tenant", "add", str(file))
    assert result.exit_code == 1
    assert f"step 'bus (rabbitmq, vhost {settings.broker_vhost})' failed" in result.stderr
    assert "Connection refused" in result.stderr
    assert "rolled back: database of the agreement service" in result.stderr
    assert "registry file neustadt.toml" in result.stderr
    assert "COULD NOT" not in result.stderr
    tenant = load_tenant_file(file)
    assert data_present(settings, tenant) == []
    assert not (settings.tenants_dir / "neustadt.toml").exists()

    # with the broker reachable the same command then succeeds (embedded bus here)
    fine = integra(env, "tenant", "add", str(file))
    assert fine.exit_code == 0, fine.output


def _weak_login(env: dict[str, str]) -> str:
    """A login role that may not create roles (dropped with the prefix)."""
    settings: Settings = load_settings(env)
    assert settings.database_url is not None
    name = f"{settings.database_prefix}_weak"
    engine = create_engine(settings.database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN NOCREATEROLE NOCREATEDB'))
    engine.dispose()
    return settings.database_url.set(username=name).render_as_string(hide_password=False)


def test_add_refused_by_postgresql_rolls_back_and_names_the_step(
    env: dict[str, str], tmp_path: Path
) -> None:
    weak_env = {**env, "INTEGRA_DATABASE_URL": _weak_login(env)}
    file = new_tenant_file(tmp_path / "incoming")
    result = integra(weak_env, "tenant", "add", str(file))
    assert result.exit_code == 1
    assert "step 'database of the auslaenderbehoerde connector' failed" in result.stderr
    assert "permission denied to create role" in result.stderr
    assert "rolled back:" in result.stderr and "keys" in result.stderr
    assert "COULD NOT" not in result.stderr
    settings = load_settings(env)
    assert data_present(settings, load_tenant_file(file)) == []
    assert not (settings.tenants_dir / "neustadt.toml").exists()


def test_add_refuses_an_invalid_file_and_changes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    file = new_tenant_file(tmp_path / "incoming")
    file.write_text(file.read_text().replace('federal_state = "BW"', 'federal_state = "XX"'))
    result = integra(env, "tenant", "add", str(file))
    assert result.exit_code == 1
    assert "federal_state" in result.stderr
    assert sorted(p.name for p in load_settings(env).tenants_dir.iterdir()) == ["essen.toml"]


def test_delete_after_an_export_removes_data_and_registry_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    file = new_tenant_file(tmp_path / "incoming")
    assert integra(env, "tenant", "add", str(file)).exit_code == 0
    settings = load_settings(env)
    tenant = load_tenant_file(file)

    refused = integra(env, "tenant", "delete", "neustadt")
    assert refused.exit_code == 1 and "--yes or --export FILE" in refused.stderr
    assert (settings.tenants_dir / "neustadt.toml").exists()

    export = tmp_path / "neustadt.json"
    deleted = integra(env, "tenant", "delete", "neustadt", "--export", str(export))
    assert deleted.exit_code == 0, deleted.output
    assert "offices" in json.loads(export.read_text())["tables"]
    assert present_schemas(settings, tenant) == set()
    assert not (settings.tenants_dir / "neustadt.toml").exists()
    # and it can be added again (its kept keys are reused)
    assert integra(env, "tenant", "add", str(file)).stdout.startswith("added neustadt")
