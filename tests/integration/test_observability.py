"""Health, readiness, metrics and logs at the gateway.

- ``/readyz`` asks the real PostgreSQL and RabbitMQ and answers 503 naming the one that failed;
  ``/healthz`` stays liveness (200 while the process runs).
- Request latency is labelled by route template, never by path or tenant.
- ``/metrics`` adds up every process writing to the multiprocess folder.
- Log entries carry the tenant and the correlation id of the request (JSON lines).
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from flask import Flask
from prometheus_client import REGISTRY
from werkzeug.test import Client

from deploy.logs import configure_logging
from deploy.observability import Readiness
from deploy.web import forget_metrics_of
from gateway.dispatch import TenantDispatcher
from tenants.databases import drop_prefix, ensure_database
from tenants.registry import Registry, Tenant, load_registry
from tenants.settings import Settings, load_settings
from tests.fixtures.live import free_port
from tests.fixtures.services import AMQP_URL, need_service
from tests.integration.test_web_workers import home, up_with_workers  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("tests.observability")


def item_app(_settings: Settings, tenant: Tenant) -> Flask:
    app = Flask(f"items-{tenant.slug}")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        log.warning("item %s looked at", item_id)
        return {"id": item_id}

    return app


@pytest.fixture
def dispatcher(tmp_path: Path) -> TenantDispatcher:
    settings = load_settings({"INTEGRA_HOME": str(tmp_path)})
    return TenantDispatcher(settings, load_registry(settings.tenants_dir), item_app)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_latency_by_route_template_requests_by_tenant(dispatcher: TenantDispatcher) -> None:
    route = {"method": "GET", "route": "/items/<int:item_id>"}
    before = sample("integra_http_request_seconds_count", **route)
    before_404 = sample("integra_http_request_seconds_count", method="GET", route="(unmatched)")
    before_essen = sample("integra_http_requests_total", tenant="essen", status="2xx")
    client = Client(dispatcher)
    for slug, item in (("freiburg", 1), ("essen", 2), ("essen", 3)):
        assert client.get(f"/t/{slug}/items/{item}").json == {"id": item}
    assert client.get("/t/essen/nothing-here").status_code == 404
    assert sample("integra_http_request_seconds_count", **route) - before == 3
    assert (
        sample("integra_http_request_seconds_count", method="GET", route="(unmatched)") - before_404
        == 1
    )
    assert sample("integra_http_requests_total", tenant="essen", status="2xx") - before_essen == 2
    text = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
    latency = [line for line in text.splitlines() if line.startswith("integra_http_request_sec")]
    assert latency and not any("tenant=" in line or "/items/2" in line for line in latency)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for handler in handlers:  # a capture of the test runner: configure_logging would yield
        root.removeHandler(handler)
    configure_logging(verbose=False, log_format="json")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_log_entries_carry_tenant_and_correlation_id(
    dispatcher: TenantDispatcher, json_log: io.StringIO
) -> None:
    client = Client(dispatcher)
    client.get("/t/freiburg/items/7", headers={"X-Request-ID": "req-4711"})
    client.get("/t/essen/items/8", headers={"X-Request-ID": "bad id {with} spaces"})
    log.warning("outside any request")
    entries = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [e for e in entries if e["logger"] == "tests.observability"]
    assert [(e["message"], e["tenant"]) for e in mine] == [
        ("item 7 looked at", "freiburg"),
        ("item 8 looked at", "essen"),
        ("outside any request", None),
    ]
    assert mine[0]["correlation_id"] == "req-4711"
    assert len(mine[1]["correlation_id"]) == 32  # refused header: a fresh id instead
    assert mine[2]["correlation_id"] is None
    assert {"time", "level", "process", "thread"} <= set(mine[0])


@pytest.fixture
def platform(postgres_url: str, run_id: str, tmp_path: Path) -> Iterator[tuple[Settings, Registry]]:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    settings = load_settings(
        {
            "INTEGRA_HOME": str(tmp_path),
            "INTEGRA_DATABASE_URL": postgres_url,
            "INTEGRA_DATABASE_PREFIX": f"ready_{run_id}",
            "INTEGRA_BROKER_URL": AMQP_URL,
            "INTEGRA_BROKER_VHOST": f"ready-{run_id}",
        }
    )
    registry = load_registry(settings.tenants_dir)
    only = Registry({"freiburg": registry.require("freiburg")})
    ensure_database(settings, only.require("freiburg"))
    yield settings, only
    drop_prefix(settings)


def readyz(settings: Settings, registry: Registry) -> tuple[int, dict[str, object]]:
    gateway = TenantDispatcher(
        settings, registry, item_app, readiness=Readiness(settings, registry)
    )
    answer = Client(gateway).get("/readyz")
    assert Client(gateway).get("/healthz").status_code == 200  # liveness whatever happens
    return answer.status_code, answer.json


def test_readyz_checks_database_and_broker(platform: tuple[Settings, Registry]) -> None:
    settings, registry = platform
    assert readyz(settings, registry) == (
        200,
        {"ready": True, "checks": {"database": "ok", "broker": "ok"}, "failed": []},
    )
    closed = free_port()
    no_broker = replace(settings, broker_url=f"amqp://guest:guest@127.0.0.1:{closed}/")
    status, report = readyz(no_broker, registry)
    assert (status, report["failed"]) == (503, ["broker"])
    assert "guest" not in json.dumps(report)
    no_database = replace(
        settings,
        database_url=settings.database_url.set(port=closed),  # type: ignore[union-attr]
    )
    status, report = readyz(no_database, registry)
    assert (status, report["failed"]) == (503, ["database"])


COUNTING = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from deploy.observability import use_metrics_dir
use_metrics_dir(Path({folder!r}))
from messaging.metrics import bus_metrics
from gateway.metrics import http_metrics
bus_metrics().published.labels("freiburg", "referral.requested").inc({count})
http_metrics().requests.labels("freiburg", "2xx").inc({count})
http_metrics().apps.inc()
"""

SCRAPE = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from deploy.observability import use_metrics_dir
use_metrics_dir(Path({folder!r}))
from gateway.metrics import exposition
sys.stdout.write(exposition().decode())
"""


def test_metrics_add_up_over_every_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    pids = []
    for count in (2, 5):
        code = COUNTING.format(root=str(ROOT), folder=str(folder), count=count)
        process = subprocess.Popen([sys.executable, "-c", code])
        assert process.wait(timeout=60) == 0
        pids.append(process.pid)
    # integra up replaces a web worker that died: its live gauges leave the sum
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    forget_metrics_of(pids[0])
    assert len(list(folder.glob("counter_*.db"))) == 2  # one file per process
    code = SCRAPE.format(root=str(ROOT), folder=str(folder))
    text = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert (
        'integra_messages_published_total{tenant="freiburg",type="referral.requested"} 7.0' in text
    )
    assert 'integra_http_requests_total{status="2xx",tenant="freiburg"} 7.0' in text
    assert "integra_tenant_apps_loaded 1.0" in text  # counters stay, the gauge left


def test_integra_up_with_two_web_processes_serves_the_sum(
    home: tuple[Path, dict[str, str]],  # noqa: F811 (the fixture)
) -> None:
    path, env = home
    with up_with_workers(path, env, "metrics.log") as running:
        base = running.base
        fresh = {"Connection": "close"}  # a connection each: the kernel spreads them
        for _ in range(30):
            answer = requests.get(
                f"{base}/t/freiburg/api/v1/openapi.json", headers=fresh, timeout=30
            )
            assert answer.status_code == 200
        ready = requests.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        for _ in range(4):  # whichever process answers the scrape, the sum is the same
            text = requests.get(f"{base}/metrics", headers=fresh, timeout=30).text
            assert (
                'integra_http_request_seconds_count{method="GET",route="/api/v1/openapi.json"} 30.0'
                in text
            ), text[:2000]
            assert 'integra_outbox_lag_seconds{tenant="freiburg"}' in text
        files = list((path / "var" / "metrics").glob("*.db"))
        assert len({f.stem.rsplit("_", 1)[1] for f in files}) >= 2, files  # several processes


def test_configure_logging_leaves_a_foreign_configuration_alone() -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    root.addHandler(foreign)
    try:
        configure_logging(verbose=False, log_format="json")
        assert root.handlers == [foreign]
    finally:
        root.removeHandler(foreign)
        for handler in saved:
            root.addHandler(handler)
