"""API throughput and latency on PostgreSQL, beside a bare Flask endpoint (not a test).

Creates N clients, each with a drafted agreement, through the real JSON API: the gateway
(``TenantDispatcher``) with the tenant's app from ``create_app``, served by waitress with the
same event loop and thread count as ``integra up``, in a subprocess of its own. The baseline is
a bare Flask endpoint (parse the JSON body, answer JSON) served by the same server setup and
driven by the same load generator in the same run, so the ratio says what the platform costs
over the HTTP stack itself. Absolute figures drift between runs and machines; the ratio less so.

    ./run bench                            # 10,000 clients, 8 concurrent keep-alive sessions
    ./run bench --clients 500 --concurrency 4

PostgreSQL: INTEGRA_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres). The
benchmark provisions one tenant under its own database prefix and drops its databases at the
end. The load generator and the server share the machine: on a small machine both compete
for the same cores, and so they do for the baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TENANT = "freiburg"
WARMUP_CLIENTS = 25
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0


# --- the servers (run in a subprocess: ``api_bench.py --serve api|bare``) -------------------


def bare_app() -> Any:
    """The baseline: Flask routing, a JSON body parsed, a small JSON answer. Nothing else."""
    from flask import Flask, request

    app = Flask("bare")

    @app.post("/bare/<path:_anything>")
    def create(_anything: str) -> Any:
        body = request.get_json()
        return {"id": str(uuid.uuid4()), "fields": len(body)}, 201

    return app


def serve(kind: str, threads: int) -> None:
    """Serve ``kind`` on a free port exactly as ``integra up`` serves (waitress, the same loop
    and shutdown); print the port, then run until SIGTERM."""
    import logging

    from waitress.server import create_server

    from deploy.web import serve_until_stopped

    if kind == "api":
        from deploy.wiring import tenant_dispatcher
        from tenants.registry import load_registry
        from tenants.settings import load_settings

        settings = load_settings()
        app: Any = tenant_dispatcher(settings, load_registry(settings.tenants_dir))
    else:
        app = bare_app()
    # With every thread busy waitress warns "Task queue depth is N" per request: that is the
    # load this benchmark applies on purpose.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    connections: dict[int, Any] = {}
    server: Any = create_server(
        app, map=connections, host="127.0.0.1", port=0, threads=threads, ident="bench"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"LISTENING {server.effective_port}", flush=True)
    serve_until_stopped(server, connections, stop)


@contextmanager
def server_process(kind: str, threads: int, env: dict[str, str]) -> Iterator[str]:
    """Start ``--serve kind`` and yield its base URL; stop it (SIGTERM) at the end."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--threads", str(threads)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = _readline(process, START_TIMEOUT)
        if not line.startswith("LISTENING "):
            raise SystemExit(f"{kind} server did not start (exit {process.poll()}): {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else ""


# --- the load ----------------------------------------------------------------------------


def client_body(n: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return {
        "given_name": "Amina",
        "family_name": f"Bench{n:06d}",
        "birth_date": "1990-04-12",
        "country_of_origin": "SY",
        "languages": ["ar", "en"],
        "arrival_date": (today - timedelta(days=120)).isoformat(),
    }


def agreement_body() -> dict[str, Any]:
    today = datetime.now(UTC).date()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    return {
        "goals": [
            {
                "field": "language",
                "target": "Deutsch B1 im Integrationskurs",
                "due_date": day(300),
                "steps": [
                    {
                        "description": "Anmeldung zum Integrationskurs",
                        "owner_side": "client",
                        "due_date": day(30),
                    },
                    {
                        "description": "Kursträger mit Kinderbetreuung suchen",
                        "owner_side": "institution",
                        "due_date": day(20),
                    },
                ],
            },
            {
                "field": "work",
                "target": "Beratung zur Arbeitsaufnahme",
                "due_date": day(180),
                "steps": [
                    {
                        "description": "Termin beim Jobcenter",
                        "owner_side": "institution",
                        "due_date": day(14),
                    }
                ],
            },
        ]
    }


@dataclass
class Measurement:
    """Latencies (seconds) by request kind, and the wall-clock time of the whole run."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def all(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


#: One unit of work: (session, base URL, index) -> [(kind, latency), ...]
Work = Callable[[requests.Session, str, int], list[tuple[str, float]]]


def timed_post(
    session: requests.Session, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = session.post(url, json=body, headers=headers, timeout=60)
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:500]}")
    data: dict[str, Any] = response.json()
    return data, elapsed


def api_work(token: str) -> Work:
    headers = {"Authorization": f"Bearer {token}"}
    agreement = agreement_body()

    def work(session: requests.Session, base: str, n: int) -> list[tuple[str, float]]:
        api = f"{base}/t/{TENANT}/api/v1"
        client, first = timed_post(session, f"{api}/clients", client_body(n), headers)
        _, second = timed_post(
            session, f"{api}/clients/{client['id']}/agreements", agreement, headers
        )
        return [("POST clients", first), ("POST clients/<id>/agreements", second)]

    return work


def bare_work() -> Work:
    agreement = agreement_body()

    def work(session: requests.Session, base: str, n: int) -> list[tuple[str, float]]:
        client, first = timed_post(session, f"{base}/bare/clients", client_body(n), {})
        _, second = timed_post(
            session, f"{base}/bare/clients/{client['id']}/agreements", agreement, {}
        )
        return [("POST bare (client body)", first), ("POST bare (agreement body)", second)]

    return work


def drive(base: str, work: Work, count: int, concurrency: int, offset: int = 0) -> Measurement:
    """``count`` units of work over ``concurrency`` threads, each with its own keep-alive
    session; the first error stops the run (a benchmark that counts errors as speed lies)."""
    counter = iter(range(offset, offset + count))
    lock = threading.Lock()
    measurement = Measurement()
    errors: list[BaseException] = []

    def worker() -> None:
        mine: list[tuple[str, float]] = []
        with requests.Session() as session:
            while not errors:
                with lock:
                    n = next(counter, None)
                if n is None:
                    break
                try:
                    mine.extend(work(session, base, n))
                except Exception as exc:
                    errors.append(exc)
        with lock:
            for kind, latency in mine:
                measurement.latencies.setdefault(kind, []).append(latency)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measurement.seconds = time.perf_counter() - started
    if errors:
        raise SystemExit(f"benchmark aborted: {errors[0]}")
    return measurement


# --- set-up and report ----------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def row(label: str, latencies: list[float], seconds: float | None) -> str:
    rate = f"{len(latencies) / seconds:9.1f}" if seconds else " " * 9
    return (
        f"{label:34} {len(latencies):8d} {rate} "
        f"{percentile(latencies, 50) * 1000:8.2f} {percentile(latencies, 99) * 1000:8.2f}"
    )


def report(bare: Measurement, api: Measurement, args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.clients} clients with agreements; {args.concurrency} concurrent sessions; "
        f"waitress with {args.threads} threads; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}"
    )
    print(f"{'':34} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print(row("bare Flask endpoint (baseline)", bare.all(), bare.seconds))
    print(row("Integra API on PostgreSQL", api.all(), api.seconds))
    for kind, latencies in api.latencies.items():
        print(row(f"  {kind}", latencies, None))
    bare_rate, api_rate = bare.requests / bare.seconds, api.requests / api.seconds
    print(
        f"ratio baseline/API: throughput {bare_rate / api_rate:.1f}x, "
        f"p50 {percentile(api.all(), 50) / percentile(bare.all(), 50):.1f}x, "
        f"p99 {percentile(api.all(), 99) / percentile(bare.all(), 99):.1f}x slower"
    )
    print(f"API: {args.clients / api.seconds:.1f} clients with agreements per second")


def provision(settings: Any) -> tuple[str, str]:
    """The tenant's database and a counsellor API client; returns (client id, secret)."""
    from sqlalchemy.orm import Session

    from deploy.provisioning import provision_tenant
    from services.agreements.models.vocabulary import Role
    from services.agreements.operations.api_clients import create_api_client
    from tenants.databases import create_tenant_engine
    from tenants.registry import load_registry

    tenant = load_registry(settings.tenants_dir).require(TENANT)
    provision_tenant(settings, tenant)
    engine = create_tenant_engine(settings, tenant, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            issued = create_api_client(session, "bench", Role.COUNSELLOR, tenant.offices[0].key)
    finally:
        engine.dispose()
    return issued.client_id, issued.client_secret


def drop_databases(settings: Any) -> list[str]:
    """Every database and role under the benchmark's own prefix (the tenant's and any a
    service created beside it)."""
    from tenants.databases import drop_prefix

    return drop_prefix(settings)


def obtain_token(base: str, client_id: str, secret: str) -> str:
    response = requests.post(
        f"{base}/t/{TENANT}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=60,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def run(args: argparse.Namespace) -> None:
    from tenants.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="integra-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRA_")}
        env.update(
            INTEGRA_HOME=home,
            INTEGRA_DATABASE_URL=os.environ.get("INTEGRA_DATABASE_URL", DEFAULT_DATABASE_URL),
            INTEGRA_DATABASE_PREFIX=f"bench_{uuid.uuid4().hex[:8]}",
        )
        settings = load_settings(env)
        print(f"PostgreSQL {settings.database_url}; databases {settings.database_prefix}_*")
        try:
            client_id, secret = provision(settings)
            pairs = args.clients

            with server_process("bare", args.threads, env) as base:
                drive(base, bare_work(), WARMUP_CLIENTS, args.concurrency, offset=-WARMUP_CLIENTS)
                print(f"baseline: {2 * pairs} requests ...", flush=True)
                bare = drive(base, bare_work(), pairs, args.concurrency)

            with server_process("api", args.threads, env) as base:
                token = obtain_token(base, client_id, secret)
                work = api_work(token)
                drive(base, work, WARMUP_CLIENTS, args.concurrency, offset=-WARMUP_CLIENTS)
                print(f"API: {2 * pairs} requests ...", flush=True)
                api = drive(base, work, pairs, args.concurrency)
        finally:
            dropped = drop_databases(settings)
            print(f"dropped {', '.join(dropped) or 'nothing'}")
    report(bare, api, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000, help="clients to create")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP sessions")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--serve", choices=["api", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.threads)
    else:
        run(args)


if __name__ == "__main__":
    main()
