"""`integra connector run <tenant> <kind>` runs one connector alone and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.fixtures.live import free_port


def test_connector_runs_alone_and_serves_its_callback(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRA_")}
    env["INTEGRA_HOME"] = str(tmp_path)
    integra = Path(sys.executable).parent / "integra"
    process = subprocess.Popen(
        [str(integra), "connector", "run", "freiburg", "jobcenter", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/t/freiburg/agency/jobcenter/callback"
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = requests.post(url, data=b"not a jws", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.3)
        assert response is not None, "the callback endpoint never answered"
        assert response.status_code == 401  # unsigned answers are refused
        assert response.json()["reason_code"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        output = process.stdout.read() if process.stdout else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
    assert "connector freiburg/jobcenter running over webhook" in output


def test_connector_run_refuses_an_unknown_tenant(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRA_")}
    env["INTEGRA_HOME"] = str(tmp_path)
    integra = Path(sys.executable).parent / "integra"
    result = subprocess.run(
        [str(integra), "connector", "run", "atlantis", "jobcenter"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "unknown tenant 'atlantis'" in result.stderr
