"""`integra status` and `integra dlq` on a provisioned embedded tenant."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from deploy.cli import main
from deploy.provisioning import provision_tenant
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.live import registry_copy


def _env(home: Path) -> dict[str, str]:
    registry = registry_copy(home / "registry", ("freiburg",), "unused")
    return {"INTEGRA_HOME": str(home), "INTEGRA_TENANTS_DIR": str(registry)}


def test_status_shows_outbox_lag_and_queue_depths(tmp_path: Path) -> None:
    env = _env(tmp_path)
    settings = load_settings(env)
    provision_tenant(settings, load_registry(settings.tenants_dir).require("freiburg"))
    result = CliRunner().invoke(main, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["tenant"] == "freiburg" and row["provisioned"] is True
    assert row["outbox_pending"] == 0 and row["outbox_lag_seconds"] == 0
    assert "freiburg.agreements.inbox" in row["queues"]


def test_dlq_list_and_replay_answer_clearly(tmp_path: Path) -> None:
    env = _env(tmp_path)
    settings = load_settings(env)
    provision_tenant(settings, load_registry(settings.tenants_dir).require("freiburg"))
    runner = CliRunner()
    listed = runner.invoke(main, ["dlq", "list", "freiburg"], env=env)
    assert listed.exit_code == 0 and "no dead letters" in listed.output
    missing = runner.invoke(main, ["dlq", "replay", "freiburg", "0" * 32], env=env)
    assert missing.exit_code != 0 and "no dead letter with id" in missing.output
    neither = runner.invoke(main, ["dlq", "replay", "freiburg"], env=env)
    assert neither.exit_code != 0 and "--all" in neither.output
    unknown = runner.invoke(main, ["dlq", "list", "atlantis"], env=env)
    assert unknown.exit_code != 0 and "unknown tenant" in unknown.output
