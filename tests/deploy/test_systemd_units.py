"""The systemd unit templates for a single-VM install: one instance of ``integra@.service``
per declared process type, started after a prepare step that empties the metrics folder
and migrates; and ``integra metrics clean`` that the prepare step runs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from deploy.cli import main
from deploy.process_types import PROCESS_TYPES, process_type

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """Section → key → every value (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def test_the_template_runs_the_process_type_named_by_its_instance() -> None:
    template = unit("integra@.service")
    (start,) = (line.split() for line in template["Service"]["ExecStart"])
    assert start[0].endswith("/integra") and start[1:] == ["process", "%i"]
    assert "PROMETHEUS_MULTIPROC_DIR=/run/integra/metrics" in template["Service"]["Environment"]
    assert template["Unit"]["Requires"] == ["integra-prepare.service"]


def test_the_target_wants_one_instance_per_process_type() -> None:
    wants = set(unit("integra.target")["Unit"]["Wants"][0].split())
    assert wants == {"integra-prepare.service"} | {
        f"integra@{p.name}.service" for p in PROCESS_TYPES
    }


def test_prepare_cleans_the_metrics_folder_then_migrates() -> None:
    starts = [line.split()[1:] for line in unit("integra-prepare.service")["Service"]["ExecStart"]]
    assert starts == [["metrics", "clean"], ["migrate"]]


def test_unknown_process_type_is_named() -> None:
    try:
        process_type("worker-everything")
    except ValueError as exc:
        assert "web, worker-agreements, worker-connectors" in str(exc)
    else:
        raise AssertionError("an unknown type was accepted")


def test_metrics_clean_empties_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"x")
    result = CliRunner().invoke(
        main, ["metrics", "clean"], env={"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    )
    assert result.exit_code == 0, result.output
    assert folder.is_dir() and list(folder.iterdir()) == []
    home = tmp_path / "home"
    result = CliRunner().invoke(
        main, ["metrics", "clean"], env={"PROMETHEUS_MULTIPROC_DIR": "", "INTEGRA_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    assert (home / "var" / "metrics").is_dir()


def test_integra_process_names_the_command_of_each_type() -> None:
    for process in PROCESS_TYPES:
        result = CliRunner().invoke(main, ["process", process.name, "--dry-run"], env={})
        assert result.exit_code == 0, result.output
        assert result.output.split() == ["integra", *process.args]
    refused = CliRunner().invoke(main, ["process", "worker-everything"], env={})
    assert refused.exit_code == 2 and "worker-everything" in refused.output
