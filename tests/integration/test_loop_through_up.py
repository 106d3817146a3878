"""The closed loop through ``integra up`` itself, a real subprocess on a free port: a referral
sent through the API reaches each channel's agency (AMQP, webhook, XML files) and every
answer comes back into its history, on the embedded default (all 18 pilot tenants, demo data
and simulators as a newcomer gets them) and on PostgreSQL + RabbitMQ (``--simulate``).

One ``integra up`` per mode, shared by the module's tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tenants.registry import load_registry
from tests.fixtures.live import free_port
from tests.fixtures.up import (
    api_for,
    counsellor,
    integra,
    not_closed,
    on_postgres_and_rabbitmq,
    refer,
    wait_all_finished,
)
from tests.integration.test_up import Running, integra_up, tenant_slugs

KINDS = ("jobcenter", "arbeitsagentur", "auslaenderbehoerde")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    """``integra up`` with no configuration: the embedded default with demo data."""
    home = tmp_path_factory.mktemp("loop-embedded")
    with integra_up(home, free_port(), "up.log") as running:
        yield running, home


@pytest.fixture(scope="module")
def on_postgres(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, run_id: str
) -> Iterator[tuple[Running, dict[str, str], list[str]]]:
    """``integra up --simulate --no-demo`` on PostgreSQL + RabbitMQ, two municipalities whose
    partners use all three channels (under slugs of this run)."""
    home = tmp_path_factory.mktemp("loop-pg")
    slugs = {f"loop{run_id}-freiburg": "freiburg", f"loop{run_id}-hamm": "hamm"}
    with (
        on_postgres_and_rabbitmq(home, slugs, postgres_url, f"loop-{run_id}") as env,
        integra_up(home, free_port(), "up.log", "--simulate", "--no-demo", env=env) as up,
    ):
        yield up, env, list(slugs)


def test_every_channel_of_every_pilot_tenant_closes_the_loop_embedded(
    embedded: tuple[Running, Path],
) -> None:
    running, home = embedded
    assert "connectors with partner simulators (demo)" in running.output()
    credentials = json.loads((home / "var" / "secrets" / "demo-credentials.json").read_text())
    pending = {}
    for slug in tenant_slugs():
        entry = credentials[slug]["counsellor"]
        api = api_for(running.base, slug, entry["client_id"], entry["client_secret"])
        for kind in KINDS:
            pending[f"{slug}/{kind}"] = (api, refer(api, kind)["id"])
    finished = wait_all_finished(pending, timeout=240)
    stalled = not_closed(finished)
    assert stalled == {}, running.tail()
    assert len(finished) == 54


def test_the_embedded_demo_says_so_in_the_portal(embedded: tuple[Running, Path]) -> None:
    running, _ = embedded
    page = requests.get(f"{running.base}/t/freiburg/login", timeout=30, allow_redirects=True)
    assert page.status_code == 200
    assert 'class="demo-banner"' in page.text and 'data-demo="simulated"' in page.text
    # The simulators answer where the demo overlay says, on the gateway's own port.
    probe = requests.options(f"{running.base}/sim/freiburg/jobcenter", timeout=30)
    assert probe.status_code == 401  # a probe without Integra's signature


def test_each_channel_closes_the_loop_on_postgres_and_rabbitmq(
    on_postgres: tuple[Running, dict[str, str], list[str]],
) -> None:
    running, env, slugs = on_postgres
    # the connectors worker says so once it runs (the web processes answer before that)
    deadline = time.monotonic() + 60
    while "connectors with partner simulators (demo)" not in running.output():
        assert time.monotonic() < deadline, running.tail()
        time.sleep(0.5)
    pending = {}
    for slug in slugs:
        office = load_registry(Path(env["INTEGRA_TENANTS_DIR"])).require(slug).offices[0].key
        api = counsellor(running.base, env, slug, office)
        for kind in KINDS:
            pending[f"{slug}/{kind}"] = (api, refer(api, kind)["id"])
    finished = wait_all_finished(pending, timeout=120)
    stalled = not_closed(finished)
    assert stalled == {} and len(finished) == len(pending) == 6, running.tail()
    page = requests.get(f"{running.base}/t/{slugs[0]}/login", timeout=30)
    assert 'data-demo="simulated"' in page.text  # simulated partners, though no demo data


def test_partner_check_against_the_running_platform(
    on_postgres: tuple[Running, dict[str, str], list[str]],
) -> None:
    _, env, slugs = on_postgres
    slug = slugs[0]  # Freiburg: the employment agency on AMQP, the ABH on XML files
    amqp = integra(env, "partner", "check", slug, "arbeitsagentur")
    assert "reachable and authenticated" in amqp.stdout
    assert "nothing delivered" in amqp.stdout
    folder = integra(env, "partner", "check", slug, "auslaenderbehoerde")
    assert "is writable" in folder.stdout
    # Production registry files name no webhook URL for the job centre (simulators stand in).
    webhook = integra(env, "partner", "check", slug, "jobcenter", check=False)
    assert webhook.returncode == 3, webhook.stderr
    assert "no webhook_url" in webhook.stderr
