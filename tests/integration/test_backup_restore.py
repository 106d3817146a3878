"""`integra backup` and `integra restore` end to end, on PostgreSQL and on the embedded
default: back up, change data, restore, and the data is as it was with an intact audit chain;
a damaged archive changes nothing; a fresh installation (another home, another database
prefix) takes the archive too."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from deploy.cli import main
from tenants.databases import dispose_shared_engines, drop_prefix
from tenants.settings import load_settings
from tests.fixtures.live import SHIPPED_REGISTRY


def integra(env: dict[str, str], *args: str) -> Result:
    keep = {key: None for key in ("INTEGRA_CONFIG", "INTEGRA_BROKER_URL")}
    result = CliRunner().invoke(main, list(args), env={**keep, **env}, catch_exceptions=False)
    dispose_shared_engines()  # as if each command were its own process
    return result


def installation(home: Path, backend: str, database: dict[str, str], label: str) -> dict[str, str]:
    registry = home / "registry"
    registry.mkdir(parents=True)
    env = {"INTEGRA_HOME": str(home), "INTEGRA_TENANTS_DIR": str(registry)}
    if backend == "postgresql":
        env |= {
            "INTEGRA_DATABASE_URL": database["url"],
            "INTEGRA_DATABASE_PREFIX": f"bkp{label}_{database['run']}",
        }
    return env


@pytest.fixture(params=["postgresql", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    if backend == "sqlite":
        return {}
    return {
        "url": request.getfixturevalue("postgres_url"),
        "run": request.getfixturevalue("run_id"),
    }


@pytest.fixture
def homes(tmp_path: Path, backend: str, database: dict[str, str]) -> Iterator[list[dict[str, str]]]:
    """Two installations: the one backed up, and a fresh one to restore into."""
    envs = [
        installation(tmp_path / "a", backend, database, "a"),
        installation(tmp_path / "b", backend, database, "b"),
    ]
    shutil.copy(SHIPPED_REGISTRY / "freiburg.toml", envs[0]["INTEGRA_TENANTS_DIR"])
    yield envs
    if backend == "postgresql":
        for env in envs:
            drop_prefix(load_settings(env))


def clients(env: dict[str, str]) -> list[dict[str, object]]:
    listed = integra(env, "tenant", "api-client", "list", "freiburg", "--json")
    assert listed.exit_code == 0, listed.output
    return list(json.loads(listed.stdout))


def add_revoked_client(env: dict[str, str], name: str) -> None:
    """An API client, revoked at once: a row and an audit entry."""
    made = integra(env, "tenant", "api-client", "create", "freiburg", "--role", "tenant_admin",
                   "--name", name, "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    client_id = json.loads(made.stdout)["client_id"]
    revoked = integra(env, "tenant", "api-client", "revoke", "freiburg", client_id)
    assert revoked.exit_code == 0, revoked.output


def audit_entries(env: dict[str, str]) -> int:
    verified = integra(env, "audit", "verify", "freiburg")
    assert verified.exit_code == 0, verified.output
    assert "audit chain intact" in verified.stdout
    return int(verified.stdout.split(", ")[1].split()[0])


def tamper(archive: Path, member: str, target: Path) -> Path:
    """A copy of the archive with one byte of ``member`` changed."""
    with tarfile.open(archive) as src, tarfile.open(target, "w") as dst:
        for info in src.getmembers():
            data = bytearray(src.extractfile(info).read())  # type: ignore[union-attr]
            if info.name == member:
                data[len(data) // 2] ^= 0xFF
            import io

            dst.addfile(info, io.BytesIO(bytes(data)))
    return target


@pytest.mark.postgres
def test_backup_change_restore_and_restore_elsewhere(
    homes: list[dict[str, str]], tmp_path: Path
) -> None:
    env, fresh = homes
    assert integra(env, "migrate", "freiburg").exit_code == 0
    add_revoked_client(env, "before the backup")
    archive = tmp_path / "freiburg.tar"
    taken = integra(env, "backup", "freiburg", "--out", str(archive))
    assert taken.exit_code == 0, taken.output
    assert archive.stat().st_mode & 0o777 == 0o600
    secrets = Path(env["INTEGRA_HOME"]) / "var" / "secrets" / "freiburg"
    keyring = (secrets / "bus-keys.json").read_bytes()

    add_revoked_client(env, "after the backup")
    assert len(clients(env)) == 2 and audit_entries(env) == 2

    refused = integra(env, "restore", str(archive))
    assert refused.exit_code == 1
    assert "exists here" in refused.stderr and "stop the platform" in refused.stderr
    assert "--replace" in refused.stderr
    assert len(clients(env)) == 2

    damaged = tamper(
        archive,
        "db/agreements." + ("dump" if "INTEGRA_DATABASE_URL" in env else "sqlite3"),
        tmp_path / "damaged.tar",
    )
    spoiled = integra(env, "restore", str(damaged), "--replace")
    assert spoiled.exit_code == 1
    assert "checksum mismatch" in spoiled.stderr and "nothing changed" in spoiled.stderr
    assert len(clients(env)) == 2

    (secrets / "bus-keys.json").write_text("{}")  # a damaged key ring comes back too
    restored = integra(env, "restore", str(archive), "--replace")
    assert restored.exit_code == 0, restored.output
    assert "freiburg: replaced from the backup" in restored.stdout
    assert [c["name"] for c in clients(env)] == ["before the backup"]
    assert audit_entries(env) == 1
    assert (secrets / "bus-keys.json").read_bytes() == keyring

    # a fresh installation: another home, another prefix, an empty registry
    elsewhere = integra(fresh, "restore", str(archive))
    assert elsewhere.exit_code == 0, elsewhere.output
    assert "freiburg: restored from the backup" in elsewhere.stdout
    assert [c["name"] for c in clients(fresh)] == ["before the backup"]
    assert audit_entries(fresh) == 1
    fresh_secrets = Path(fresh["INTEGRA_HOME"]) / "var" / "secrets" / "freiburg"
    assert (fresh_secrets / "bus-keys.json").read_bytes() == keyring
    assert (fresh_secrets / "bus-keys.json").stat().st_mode & 0o777 == 0o600
    add_revoked_client(fresh, "new life")  # the restored tenant works on
    assert audit_entries(fresh) == 2


@pytest.mark.postgres
def test_restore_refuses_what_is_not_a_backup(homes: list[dict[str, str]], tmp_path: Path) -> None:
    env, _ = homes
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar archive at all" * 40)
    result = integra(env, "restore", str(junk))
    assert result.exit_code == 1
    assert "not a readable tar archive" in result.stderr
    traversal = tmp_path / "evil.tar"
    with tarfile.open(traversal, "w") as tar:
        tar.add(SHIPPED_REGISTRY / "freiburg.toml", arcname="../freiburg.toml")
    evil = integra(env, "restore", str(traversal))
    assert evil.exit_code == 1
    assert "is not a plain file in the archive" in evil.stderr
    assert not (tmp_path / "freiburg.toml").exists()


def test_backup_all_writes_one_archive_per_tenant(tmp_path: Path) -> None:
    env = installation(tmp_path / "home", "sqlite", {}, "all")
    for slug in ("freiburg", "essen"):
        shutil.copy(SHIPPED_REGISTRY / f"{slug}.toml", env["INTEGRA_TENANTS_DIR"])
    assert integra(env, "migrate", "freiburg", "essen", "--workers", "1").exit_code == 0
    out = tmp_path / "backups"
    taken = integra(env, "backup", "--all", "--out", str(out))
    assert taken.exit_code == 0, taken.output
    assert sorted(p.name for p in out.iterdir()) == ["essen.tar", "freiburg.tar"]
    with tarfile.open(out / "essen.tar") as tar:
        names = tar.getnames()
    assert {"manifest.json", "manifest.sha256", "registry/essen.toml"} <= set(names)
    assert "db/agreements.sqlite3" in names and "secrets/bus-keys.json" in names

    neither = integra(env, "backup", "--out", str(out))
    assert neither.exit_code == 1 and "name one tenant or give --all" in neither.stderr
