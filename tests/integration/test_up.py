"""``integra up`` as a newcomer runs it: no configuration, a fresh home, a real HTTP server.

Starts the platform as a subprocess on the embedded default (SQLite under var/), checks that
all 18 tenants answer and that the demo credentials it prints work, stops it with SIGTERM and
starts it again: the demo data is seeded once and the credentials stay valid. Every wait is
bounded, so a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.integration.test_private_files import assert_private

#: A first start provisions and seeds 18 tenants and starts their bus services: about a minute
#: on a 2-core machine, several when CI runs other tests beside it. Generous, but bounded.
START_TIMEOUT = 300.0
STOP_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0


def tenant_slugs() -> list[str]:
    """The shipped registry's tenants: what `integra up` with no configuration serves."""
    return sorted(t.slug for t in load_registry(load_settings({}).tenants_dir).enabled())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def integra_command() -> list[str]:
    script = Path(sys.executable).with_name("integra")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from deploy.cli import main; main()"]


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 6000) -> str:
        """The end of the output, for failure messages (the start lists every demo login)."""
        return self.output()[-chars:]


@contextmanager
def integra_up(
    home: Path,
    port: int,
    log_name: str,
    *args: str,
    env: dict[str, str] | None = None,
) -> Iterator[Running]:
    """``integra up --port PORT [ARGS]`` in HOME, by default with no INTEGRA_* configuration;
    stopped (SIGTERM, then SIGKILL if it does not exit) however the block ends."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRA_")}
        env["INTEGRA_HOME"] = str(home)
    log = home / log_name
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*integra_command(), "up", "--port", str(port), *args],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Running(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)


def _healthz_ok(base: str) -> bool:
    """One look at /healthz on a connection of its own, closed whatever happens (a timed-out
    read must not leave a socket for the garbage collector to warn about)."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False  # not listening yet, or listening while its web processes start
    finally:
        connection.close()


def wait_until_healthy(running: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(f"integra up exited with {running.process.returncode}:\n{running.tail()}")
        if _healthz_ok(running.base):
            return
        time.sleep(0.25)
    pytest.fail(f"integra up not healthy after {START_TIMEOUT:.0f} s:\n{running.tail()}")


def stop(running: Running) -> None:
    """SIGTERM must end the platform promptly and cleanly."""
    running.process.send_signal(signal.SIGTERM)
    try:
        code = running.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"integra up still running {STOP_TIMEOUT:.0f} s after SIGTERM")
    assert code == 0, running.tail()


def token(http: requests.Session, base: str, slug: str, client: dict[str, str]) -> str:
    response = http.post(
        f"{base}/t/{slug}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    access_token: str = response.json()["access_token"]
    return access_token


def client_totals(
    http: requests.Session, base: str, credentials: dict[str, Any], slugs: list[str]
) -> dict[str, dict[str, int]]:
    """Per tenant: how many clients the demo counsellor sees, in all and by agreement state."""
    totals: dict[str, dict[str, int]] = {}
    for slug in slugs:
        bearer = token(http, base, slug, credentials[slug]["counsellor"])
        counts = {}
        for state in ("all", "none", "draft", "signed", "active", "closed"):
            params = {"page_size": "100"}
            if state != "all":
                params["agreement_status"] = state
            response = http.get(
                f"{base}/t/{slug}/api/v1/clients",
                params=params,
                headers={"Authorization": f"Bearer {bearer}"},
                timeout=HTTP_TIMEOUT,
            )
            assert response.status_code == 200, f"{slug} {state}: {response.text}"
            page = response.json()
            assert len(page["items"]) == page["total"]
            counts[state] = page["total"]
        totals[slug] = counts
    return totals


def stored_client_counts(home: Path, slugs: list[str]) -> dict[str, int]:
    """Clients per tenant, read from the SQLite files themselves (all offices)."""
    counts = {}
    for slug in slugs:
        path = home / "var" / "tenants" / f"{slug}.sqlite3"
        db = sqlite3.connect(path)
        try:
            counts[slug] = db.execute("SELECT count(*) FROM clients").fetchone()[0]
        finally:
            db.close()
    return counts


def test_up_serves_every_tenant_with_demo_data_once(tmp_path: Path) -> None:
    slugs = tenant_slugs()
    assert len(slugs) == 18
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    secrets_file = home / "var" / "secrets" / "demo-credentials.json"

    with integra_up(home, port, "first.log") as running, requests.Session() as http:
        for slug in slugs:
            response = http.get(f"{running.base}/t/{slug}/api/v1/openapi.json", timeout=30)
            assert response.status_code == 200, f"{slug}: {response.status_code}"
            assert response.json()["servers"][0]["url"] == f"/t/{slug}"
        unknown = http.get(f"{running.base}/t/atlantis/api/v1/openapi.json", timeout=30)
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "tenant_not_found"
        no_token = http.get(f"{running.base}/t/freiburg/api/v1/clients", timeout=30)
        assert no_token.status_code == 401

        credentials = json.loads(secrets_file.read_text())
        assert sorted(credentials) == slugs
        printed = running.output()
        for slug in slugs:
            counsellor = credentials[slug]["counsellor"]
            assert f"{counsellor['client_id']} / {counsellor['client_secret']}" in printed

        first = client_totals(http, running.base, credentials, slugs)
        for slug, counts in first.items():
            assert counts["all"] > 0, slug
            for state in ("none", "draft", "active", "closed"):
                assert counts[state] > 0, f"{slug}: no demo client in state {state}: {counts}"
        stop(running)
    stored = stored_client_counts(home, slugs)
    assert all(stored[slug] >= first[slug]["all"] for slug in slugs)
    assert (secrets_file.stat().st_mode & 0o777) == 0o600
    assert_private(home / "var")  # databases, bus and exchange files, keys: 0600 / 0700

    with integra_up(home, port, "second.log") as running, requests.Session() as http:
        assert "created=True" not in running.output()
        assert json.loads(secrets_file.read_text()) == credentials
        assert client_totals(http, running.base, credentials, slugs) == first
        stop(running)
    assert stored_client_counts(home, slugs) == stored
