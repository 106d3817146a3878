"""The embedded default keeps its files private: every folder under var/ is 0700 and every
file 0600 (databases with their -wal and -shm files, the bus file, keys and passwords), from
the first byte, even where the process umask is the usual 022."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from deploy.provisioning import provision_tenant
from tenants.databases import create_tenant_engine
from tenants.registry import load_registry
from tenants.secrets import create_secret, write_secret
from tenants.settings import load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "tenants" / "registry"


@pytest.fixture
def wide_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its mode, for the assertion message."""
    return {
        str(path.relative_to(root)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [root, *root.rglob("*")]
    }


def assert_private(var: Path) -> None:
    wrong = {
        name: mode
        for name, mode in modes(var).items()
        if mode != ("0o700" if (var / name).is_dir() or name == "." else "0o600")
    }
    assert wrong == {}, f"not private: {wrong}"


def test_a_provisioned_embedded_tenant_keeps_every_file_private(
    tmp_path: Path, wide_umask: None
) -> None:
    (tmp_path / "registry").mkdir()
    shutil.copy(SHIPPED / "freiburg.toml", tmp_path / "registry")
    settings = load_settings(
        {"INTEGRA_HOME": str(tmp_path), "INTEGRA_TENANTS_DIR": str(tmp_path / "registry")}
    )
    tenant = load_registry(settings.tenants_dir).require("freiburg")
    provision_tenant(settings, tenant)
    engine = create_tenant_engine(settings, tenant)
    with engine.begin() as connection:  # a write: SQLite creates the -wal and -shm files
        connection.execute(text("CREATE TABLE probe (x INTEGER)"))
        wal = Path(f"{engine.url.database}-wal")
        assert wal.exists()
        assert_private(settings.var_dir)
    engine.dispose()
    assert_private(settings.var_dir)
    assert (settings.var_dir / "secrets" / "freiburg" / "database-password").exists() is False
    assert {p.name for p in (settings.var_dir / "bus").iterdir()} >= {"freiburg.sqlite3"}


def test_an_existing_wide_var_folder_is_narrowed(tmp_path: Path, wide_umask: None) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (tmp_path / "registry").mkdir()
    shutil.copy(SHIPPED / "essen.toml", tmp_path / "registry")
    settings = load_settings(
        {"INTEGRA_HOME": str(tmp_path), "INTEGRA_TENANTS_DIR": str(tmp_path / "registry")}
    )
    provision_tenant(settings, load_registry(settings.tenants_dir).require("essen"))
    assert stat.S_IMODE(var.stat().st_mode) == 0o700


def test_secret_files_are_never_readable_by_others_while_written(
    tmp_path: Path, wide_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer creates a temporary 0600 file and moves it into place: at no moment does
    a file with the secret exist with wider rights (a write_text + chmod had such a moment)."""
    target = tmp_path / "secrets" / "t" / "password"
    seen: list[int] = []
    real_replace = os.replace

    def watching_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    write_secret(target, "geheim")
    monkeypatch.undo()
    assert seen == [0o600]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert create_secret(target, "other") is False
    assert target.read_text() == "geheim"
