"""``integra up --workers 2`` on PostgreSQL and RabbitMQ: two web processes share the port.

What must hold whichever process accepts a connection: a portal login made through one is
valid in the other (sessions live in the database), the connectors' webhook callbacks (served
by the services process) answer on the public port, a worker that dies is replaced without a
request failing, SIGTERM stops everything, and workers do not outlive a killed parent.
Every request below opens a new connection, so the kernel spreads them over both workers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from deploy.provisioning import deprovision_tenant
from messaging.broker_admin import drop_installation
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.live import free_port, registry_copy
from tests.fixtures.services import AMQP_URL, need_service
from tests.integration.test_up import STOP_TIMEOUT, Running, integra_up

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FRESH = {"Connection": "close"}  # one connection per request


def workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except FileNotFoundError:
        return []


def web_workers_of(pid: int) -> list[int]:
    """The web processes among ``pid``'s children (the others are the bus workers)."""
    return [child for child in workers_of(pid) if role_of(child) == "web-worker"]


def role_of(pid: int) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return ""
    if b"web-worker" in args:
        return "web-worker"
    if b"worker" in args:
        return "worker-" + args[args.index(b"worker") + 1].decode()
    return ""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def wait_for(condition: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def home(tmp_path: Path, postgres_url: str, run_id: str) -> Iterator[tuple[Path, dict[str, str]]]:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    home = tmp_path / "home"
    registry = registry_copy(home / "registry", ("freiburg",), f"iww-{run_id}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRA_")}
    env.update(
        INTEGRA_HOME=str(home),
        INTEGRA_TENANTS_DIR=str(registry),
        INTEGRA_DATABASE_URL=postgres_url,
        INTEGRA_DATABASE_PREFIX=f"iww_{run_id}",
        INTEGRA_BROKER_URL=AMQP_URL,
        INTEGRA_BROKER_VHOST=f"iww-{run_id}",
    )
    yield home, env
    settings = load_settings(env)
    deprovision_tenant(settings, load_registry(registry).require("freiburg"))
    drop_installation(settings)


@contextmanager
def up_with_workers(home: Path, env: dict[str, str], log_name: str) -> Iterator[Running]:
    """``integra up --workers 2``; what is left of it is killed however the block ends."""
    with integra_up(home, free_port(), log_name, "--workers", "2", env=env) as running:
        try:
            wait_for(lambda: len(web_workers_of(running.process.pid)) == 2, "two web workers")
            yield running
        finally:
            for pid in workers_of(running.process.pid):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _path(response: requests.Response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def submit_login(
    http: requests.Session, base: str, username: str, password: str
) -> requests.Response:
    """The built-in provider's login form filled in and sent, each step on a new connection."""
    start = http.get(f"{base}/t/freiburg/login", allow_redirects=False, headers=FRESH, timeout=30)
    authorize = base + _path(start)
    token = CSRF.search(http.get(authorize, headers=FRESH, timeout=30).text)
    assert token
    return http.post(
        authorize,
        data={"csrf_token": token.group(1), "username": username, "password": password},
        allow_redirects=False,
        headers=FRESH,
        timeout=30,
    )


def portal_login(base: str, username: str, password: str) -> requests.Session:
    http = requests.Session()
    answer = submit_login(http, base, username, password)
    assert answer.status_code == 302, answer.text[:300]
    done = http.get(base + _path(answer), allow_redirects=False, headers=FRESH, timeout=30)
    assert done.status_code in (302, 303), done.text[:300]
    return http


def test_two_web_processes_serve_one_port(home: tuple[Path, dict[str, str]]) -> None:
    path, env = home
    with up_with_workers(path, env, "workers.log") as running:
        base = running.base
        assert "(2 web processes, worker-agreements, worker-connectors)" in running.output()
        assert sorted(role_of(p) for p in workers_of(running.process.pid)) == [
            "web-worker",
            "web-worker",
            "worker-agreements",
            "worker-connectors",
        ]
        logins = json.loads((path / "var" / "secrets" / "demo-logins.json").read_text())
        counsellor = next(e for e in logins["freiburg"] if e["role"] == "counsellor")

        # A session made by whichever worker took the login is valid in both.
        http = portal_login(base, counsellor["username"], counsellor["password"])
        for _ in range(12):
            page = http.get(f"{base}/t/freiburg/clients", headers=FRESH, timeout=30)
            assert page.status_code == 200, page.text[:300]
            assert "/login" not in page.url

        # The connectors worker's paths answer on the public port: the callback refuses a
        # body that is no JWS with its own reason (the tenant app would say 404). The
        # supervisor starts the worker beside the web processes: until it listens, the
        # forward answers 502 (an agency tries again).
        callback = f"{base}/t/freiburg/agency/jobcenter/callback"
        deadline = time.monotonic() + 60
        while requests.post(callback, data=b"", timeout=30).status_code == 502:
            assert time.monotonic() < deadline, "the connectors worker never answered"
            time.sleep(0.5)
        for _ in range(4):
            refused = requests.post(
                f"{base}/t/freiburg/agency/jobcenter/callback",
                data=b"not a jws",
                headers=FRESH,
                timeout=30,
            )
            assert refused.status_code == 401, refused.text
            assert refused.json()["reason_code"] == "malformed"

        # Failed logins count in the tenant database: five through fresh connections (spread
        # over both workers) lock the user out on every worker, right password or not.
        admin = next(e for e in logins["freiburg"] if e["role"] == "tenant_admin")
        for expected in [401] * 5 + [429, 429]:
            password = admin["password"] if expected == 429 else "wrong"
            answer = submit_login(requests.Session(), base, "admin", password)
            assert answer.status_code == expected, answer.text[:300]

        # A worker killed outright is replaced; meanwhile the other one answers everything.
        first, second = web_workers_of(running.process.pid)
        os.kill(first, signal.SIGKILL)
        for _ in range(10):
            page = http.get(f"{base}/t/freiburg/clients", headers=FRESH, timeout=30)
            assert page.status_code == 200
        wait_for(
            lambda: (
                len(web_workers_of(running.process.pid)) == 2
                and first not in web_workers_of(running.process.pid)
            ),
            "a replacement worker",
        )
        assert second in web_workers_of(running.process.pid)
        assert re.search(r"web-\d exited \(-9\); restarting", running.output())

        # A bus worker killed outright is restarted too.
        (agreements,) = [
            p for p in workers_of(running.process.pid) if role_of(p) == "worker-agreements"
        ]
        os.kill(agreements, signal.SIGKILL)
        wait_for(
            lambda: any(
                role_of(p) == "worker-agreements" and p != agreements
                for p in workers_of(running.process.pid)
            ),
            "a restarted agreements worker",
        )

        workers = workers_of(running.process.pid)
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(STOP_TIMEOUT) == 0, running.tail()
        wait_for(lambda: not any(alive(pid) for pid in workers), "workers stopped")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/healthz", timeout=5)


def test_web_workers_do_not_outlive_a_killed_parent(home: tuple[Path, dict[str, str]]) -> None:
    path, env = home
    with up_with_workers(path, env, "killed.log") as running:
        workers = workers_of(running.process.pid)
        running.process.kill()  # no chance to stop its workers
        running.process.wait(STOP_TIMEOUT)
        wait_for(lambda: not any(alive(pid) for pid in workers), "orphaned workers exit")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{running.base}/healthz", timeout=5)
