"""A first ``integra up`` interrupted at any point starts cleanly the next time, on the embedded
default and on PostgreSQL + RabbitMQ: killed (SIGKILL) while provisioning, interrupted (SIGINT)
while seeding the demo logins, killed a moment into provisioning, and after the demo users were
committed but their passwords not yet written down (the old ``username_taken``); on
PostgreSQL also a start against a database that refuses connections. After all of it one
start serves every tenant with the demo data seeded exactly once and working logins."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.live import free_port
from tests.fixtures.up import (
    api_for,
    clean_env,
    integra,
    on_postgres_and_rabbitmq,
    renamed_registry,
)
from tests.integration.test_up import integra_command, integra_up, stop
from tests.integration.test_web_workers import portal_login

#: Demo clients per tenant: six people in each of the first three offices (deploy/demo.py).
SEEDED_CLIENTS = 18


def interrupted_start(
    env: dict[str, str], log: Path, sig: signal.Signals, when: Callable[[str], bool]
) -> str:
    """``integra up`` stopped by ``sig`` as soon as ``when(output so far)``; its output."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*integra_command(), "up", "--port", str(free_port())],
            env=env,
            cwd=env["INTEGRA_HOME"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if when(log.read_text(errors="replace")):
                process.send_signal(sig)
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"integra up ended or hung before the kill point:\n{log.read_text()}")
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(60)
    return log.read_text(errors="replace")


def after(text: str, delay: float = 0.0) -> Callable[[str], bool]:
    """Once ``text`` appeared in the output, and ``delay`` seconds later."""
    seen: list[float] = []

    def when(output: str) -> bool:
        if not seen and text in output:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= delay

    return when


def interrupt_at_several_points(env: dict[str, str], home: Path, first: str) -> None:
    points = [
        ("mid-migration", signal.SIGKILL, after("Integra: provisioning", 0.4)),
        ("after one tenant", signal.SIGKILL, after(f"tenant {first} provisioned")),
        ("seeding logins", signal.SIGINT, after("Demo API clients", 0.3)),
        ("1.5 s into provisioning", signal.SIGKILL, after("Integra: provisioning", 1.5)),
    ]
    for name, sig, when in points:
        interrupted_start(env, home / f"{name.replace(' ', '-')}.log", sig, when)


def check_clean_start(home: Path, env: dict[str, str], slugs: list[str]) -> None:
    """One start after the interruptions: every tenant, its demo data once, working logins;
    then the window between committing the demo users and writing their passwords."""
    secrets = home / "var" / "secrets"
    with integra_up(home, free_port(), "clean.log", "--workers", "1", env=env) as running:
        credentials = json.loads((secrets / "demo-credentials.json").read_text())
        assert sorted(credentials) == sorted(slugs), running.tail()
        for slug in slugs:
            entry = credentials[slug]["counsellor"]
            api = api_for(running.base, slug, entry["client_id"], entry["client_secret"])
            page = api.call("GET", "clients?page_size=100", expect=200)
            office_ids = {o["id"] for o in api.call("GET", "offices", expect=200)}
            assert page["total"] > 0 and {c["office_id"] for c in page["items"]} <= office_ids
        stop(running)
    # A start killed right after committing the demo users, before writing their passwords.
    (secrets / "demo-logins.json").unlink()
    with integra_up(home, free_port(), "again.log", "--workers", "1", env=env) as running:
        assert "username_taken" not in running.output()
        logins = json.loads((secrets / "demo-logins.json").read_text())
        counsellor = next(e for e in logins["freiburg"] if e["role"] == "counsellor")
        portal_login(running.base, counsellor["username"], counsellor["password"]).close()
        stop(running)


def seeded_clients(env: dict[str, str], slugs: list[str]) -> dict[str, int]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from services.agreements.models import Client
    from tenants.databases import create_tenant_engine

    settings = load_settings(env)
    registry = load_registry(settings.tenants_dir)
    counts = {}
    for slug in slugs:
        engine = create_tenant_engine(settings, registry.require(slug), pool_size=1)
        try:
            with Session(engine) as session:
                counts[slug] = session.scalar(select(func.count()).select_from(Client)) or 0
        finally:
            engine.dispose()
    return counts


def test_an_interrupted_first_start_starts_cleanly_embedded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    slugs = ["freiburg", "hamm"]
    registry = renamed_registry(home / "registry", {s: s for s in slugs}, "first")
    env = clean_env(home, INTEGRA_TENANTS_DIR=str(registry))
    interrupt_at_several_points(env, home, "freiburg")
    check_clean_start(home, env, slugs)
    assert seeded_clients(env, slugs) == {slug: SEEDED_CLIENTS for slug in slugs}


@pytest.fixture
def on_postgres(tmp_path: Path, postgres_url: str, run_id: str) -> Iterator[dict[str, str]]:
    # Broker users are named after the slug: slugs of this run, never another run's.
    names = {"freiburg": "freiburg", f"first{run_id}-hamm": "hamm"}
    with on_postgres_and_rabbitmq(tmp_path / "home", names, postgres_url, f"first-{run_id}") as env:
        yield env


def test_an_interrupted_first_start_starts_cleanly_on_postgres(
    on_postgres: dict[str, str],
) -> None:
    env = on_postgres
    home = Path(env["INTEGRA_HOME"])
    slugs = sorted(load_registry(Path(env["INTEGRA_TENANTS_DIR"])).tenants)
    refused = {**env, "INTEGRA_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"}
    result = integra(refused, "up", "--port", str(free_port()), check=False)
    assert result.returncode != 0
    assert "refused" in (result.stdout + result.stderr).lower()
    interrupt_at_several_points(env, home, slugs[0])
    check_clean_start(home, env, slugs)
    assert seeded_clients(env, slugs) == {slug: SEEDED_CLIENTS for slug in slugs}
