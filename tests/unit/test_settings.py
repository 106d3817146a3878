"""tenants.settings.load_settings: declared defaults, the environment, a config file (the
environment wins), and a ConfigurationError naming the key for every bad value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tenants.settings import DECLARED, ConfigurationError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.home == tmp_path.resolve()
    assert settings.var_dir == tmp_path.resolve() / "var"
    assert settings.secrets_dir == tmp_path.resolve() / "var" / "secrets"
    assert settings.database_url is None and settings.embedded
    assert settings.database_prefix == "integra"
    assert settings.broker_url is None
    assert settings.broker_management_url == "http://127.0.0.1:15672"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.tenants_dir == ROOT / "tenants" / "registry"
    assert len(list(settings.tenants_dir.glob("*.toml"))) == 18
    assert settings.domain is None
    assert settings.token_lifetime == 3600


def test_the_declared_defaults_are_the_ones_applied() -> None:
    declared = {s.key: s.default for s in DECLARED}
    settings = load_settings({"INTEGRA_HOME": "/srv/integra"})
    assert str(settings.port) == declared["INTEGRA_PORT"]
    assert str(settings.token_lifetime) == declared["INTEGRA_TOKEN_LIFETIME"]
    assert settings.host == declared["INTEGRA_HOST"]
    assert settings.database_prefix == declared["INTEGRA_DATABASE_PREFIX"]
    assert settings.broker_management_url == declared["INTEGRA_BROKER_MANAGEMENT_URL"]
    assert all(s.doc for s in DECLARED)


def test_the_readme_documents_every_key() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.key for s in DECLARED if f"`{s.key}`" not in readme]
    assert missing == []


def test_values_from_the_environment() -> None:
    settings = load_settings(
        {
            "INTEGRA_HOME": "/srv/integra",
            "INTEGRA_DATABASE_URL": "postgresql://integra:pw@db.example:5433/postgres",
            "INTEGRA_DATABASE_PREFIX": "Pilot_2",
            "INTEGRA_BROKER_URL": "amqp://integra:pw@mq.example:5672/",
            "INTEGRA_BROKER_MANAGEMENT_URL": "http://mq.example:15672",
            "INTEGRA_PORT": "9000",
            "INTEGRA_HOST": "10.1.2.3",
            "INTEGRA_TENANTS_DIR": "/etc/integra/tenants",
            "INTEGRA_DOMAIN": "integra.example",
            "INTEGRA_TOKEN_LIFETIME": "600",
            "INTEGRA_LOG_FORMAT": "JSON",
        }
    )
    assert settings.log_format == "json"
    assert settings.home == Path("/srv/integra")
    assert not settings.embedded
    assert settings.database_url is not None
    assert settings.database_url.drivername == "postgresql+psycopg"  # the installed driver
    assert (settings.database_url.host, settings.database_url.port) == ("db.example", 5433)
    assert settings.database_prefix == "pilot_2"
    assert settings.broker_url == "amqp://integra:pw@mq.example:5672/"
    assert settings.broker_management_url == "http://mq.example:15672"
    assert (settings.host, settings.port) == ("10.1.2.3", 9000)
    assert settings.tenants_dir == Path("/etc/integra/tenants")
    assert settings.domain == "integra.example"
    assert settings.token_lifetime == 600


def test_the_process_environment_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INTEGRA_HOME", str(tmp_path))
    monkeypatch.setenv("INTEGRA_PORT", "8123")
    settings = load_settings()
    assert settings.home == tmp_path.resolve() and settings.port == 8123
    assert isinstance(settings, Settings)


def test_an_empty_value_means_unset() -> None:
    settings = load_settings({"INTEGRA_PORT": "", "INTEGRA_DATABASE_URL": "", "INTEGRA_HOME": "/x"})
    assert settings.port == 8000 and settings.embedded


def test_a_config_file_names_the_same_keys(tmp_path: Path) -> None:
    config = tmp_path / "integra.toml"
    config.write_text(
        'INTEGRA_PORT = 8080\nINTEGRA_DOMAIN = "integra.example"\n'
        'INTEGRA_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1/postgres"\n'
        f'INTEGRA_HOME = "{tmp_path}"\n',
        encoding="utf-8",
    )
    settings = load_settings({"INTEGRA_CONFIG": str(config)})
    assert settings.port == 8080
    assert settings.domain == "integra.example"
    assert not settings.embedded
    assert settings.home == tmp_path.resolve()


def test_the_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "integra.toml"
    config.write_text('INTEGRA_PORT = 8080\nINTEGRA_HOST = "10.0.0.1"\n', encoding="utf-8")
    settings = load_settings({"INTEGRA_CONFIG": str(config), "INTEGRA_PORT": "9090"})
    assert settings.port == 9090
    assert settings.host == "10.0.0.1"


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"INTEGRA_PORT": "eighty"}, "INTEGRA_PORT"),
        ({"INTEGRA_PORT": "70000"}, "INTEGRA_PORT"),
        ({"INTEGRA_PORT": "-1"}, "INTEGRA_PORT"),
        ({"INTEGRA_TOKEN_LIFETIME": "1h"}, "INTEGRA_TOKEN_LIFETIME"),
        ({"INTEGRA_TOKEN_LIFETIME": "0"}, "INTEGRA_TOKEN_LIFETIME"),
        ({"INTEGRA_TOKEN_LIFETIME": "-60"}, "INTEGRA_TOKEN_LIFETIME"),
        ({"INTEGRA_DATABASE_URL": "not a url"}, "INTEGRA_DATABASE_URL"),
        ({"INTEGRA_DATABASE_URL": "mysql://root@db/integra"}, "INTEGRA_DATABASE_URL"),
        ({"INTEGRA_DATABASE_URL": "sqlite:///var/x.db"}, "INTEGRA_DATABASE_URL"),
        ({"INTEGRA_DATABASE_PREFIX": "pilot-2"}, "INTEGRA_DATABASE_PREFIX"),
        ({"INTEGRA_DATABASE_PREFIX": "2pilot"}, "INTEGRA_DATABASE_PREFIX"),
        ({"INTEGRA_DATABASE_PREFIX": "p; DROP"}, "INTEGRA_DATABASE_PREFIX"),
        ({"INTEGRA_BROKER_URL": "http://127.0.0.1:15672"}, "INTEGRA_BROKER_URL"),
        ({"INTEGRA_LOG_FORMAT": "xml"}, "INTEGRA_LOG_FORMAT"),
        ({"INTEGRA_BROKER_VHOST": "a/b"}, "INTEGRA_BROKER_VHOST"),
        ({"INTEGRA_BROKER_VHOST": "with space"}, "INTEGRA_BROKER_VHOST"),
    ],
    ids=lambda value: "-".join(value.values()) if isinstance(value, dict) else None,
)
def test_a_bad_value_names_its_key(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        load_settings({"INTEGRA_HOME": "/srv/integra", **environ})


def test_an_unknown_key_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "integra.toml"
    config.write_text("INTEGRA_PORT = 8080\nINTEGRA_PROT = 8081\nDEBUG = true\n", "utf-8")
    with pytest.raises(ConfigurationError) as raised:
        load_settings({"INTEGRA_CONFIG": str(config)})
    message = str(raised.value)
    assert str(config) in message
    assert "INTEGRA_PROT" in message and "DEBUG" in message and "INTEGRA_PORT'" not in message


def test_a_missing_or_broken_config_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigurationError, match="INTEGRA_CONFIG"):
        load_settings({"INTEGRA_CONFIG": str(missing)})
    broken = tmp_path / "broken.toml"
    broken.write_text("INTEGRA_PORT = \n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=f"INTEGRA_CONFIG {broken}"):
        load_settings({"INTEGRA_CONFIG": str(broken)})


def test_a_bad_value_in_the_config_file_names_its_key(tmp_path: Path) -> None:
    config = tmp_path / "integra.toml"
    config.write_text('INTEGRA_PORT = "http"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="INTEGRA_PORT"):
        load_settings({"INTEGRA_CONFIG": str(config)})


def test_loading_reads_nothing_else_from_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit mapping is the whole environment: the process environment is not mixed in."""
    monkeypatch.setenv("INTEGRA_PORT", "1234")
    assert load_settings({"INTEGRA_HOME": os.sep}).port == 8000
