"""Portal latency with 100,000 clients in a tenant, 20 logged-in sessions (not a test).

Pages: the client list (first pages and a search), a client page, an agreement page. The
server runs as ``integra up`` runs it on PostgreSQL: web processes (one per core, at most
four; ``--workers``) sharing one listening socket, waitress with 4 threads each
(``--threads``). The baseline is a bare Flask page served by the same processes, loaded the
same way in the same run.

Two load models, both printed: sessions that work like people, reading a page before the next
click (think time drawn from an exponential distribution, mean ``--think`` seconds: 1 s is a
counsellor clicking through pages at their fastest), and saturation, every session sending
its next request the moment the last one answers (``--think 0``), which measures capacity:
there latency is simply sessions / throughput.

    .venv/bin/python bench/portal_bench.py                 # 100,000 clients, 20 sessions
    .venv/bin/python bench/portal_bench.py --clients 20000 --requests 40
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATABASE_URL = os.environ.get(
    "INTEGRA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = secrets.token_urlsafe(16)  # generated per run
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def serve(fd: int, parent: int, threads: int) -> None:
    """A web process: the gateway with every tenant's app, plus a bare Flask page, on the
    inherited listening socket, as ``integra up`` runs its web processes."""
    from flask import Flask

    from deploy.web import serve_socket, stop_on_signals, stop_with_parent
    from deploy.wiring import tenant_dispatcher
    from tenants.registry import load_registry
    from tenants.settings import load_settings

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" lines
    settings = load_settings()
    dispatcher = tenant_dispatcher(settings, load_registry(settings.tenants_dir))
    bare = Flask("bare")

    @bare.get("/")
    def page() -> str:
        rows = "".join(f"<tr><td>{i}</td><td>Name {i}</td></tr>" for i in range(25))
        return f"<html><body><table>{rows}</table></body></html>"

    dispatcher.mount("/bare", bare)
    stop = threading.Event()
    stop_on_signals(stop)
    stop_with_parent(stop, parent)
    serve_socket(dispatcher, socket.socket(fileno=fd), threads=threads, stop=stop)


def seed(settings: Any, clients: int, sessions: int) -> tuple[list[str], list[str], str]:
    """Bulk-insert clients (with one active agreement each for the first 1,000) and users."""
    from sqlalchemy import insert, text
    from sqlalchemy.orm import Session

    from deploy.provisioning import provision_tenant
    from services.agreements.identity.staff import create_user
    from services.agreements.models import Agreement, Client, Goal, Office, Step
    from services.agreements.models.name_search import search_key
    from services.agreements.models.vocabulary import Role
    from tenants.databases import create_tenant_engine
    from tenants.registry import load_registry

    tenant = load_registry(settings.tenants_dir).require("freiburg")
    provision_tenant(settings, tenant)
    engine = create_tenant_engine(settings, tenant, pool_size=1)
    now = datetime.now(UTC)
    names = ["Haddad", "Kovalenko", "Rahimi", "Yıldız", "Tesfaye", "Hosseini", "Melnyk", "Ali"]
    with Session(engine, info={"tenant": "freiburg"}) as session, session.begin():
        office = session.query(Office).filter(Office.key == tenant.offices[0].key).one()
        client_ids = [uuid.uuid4() for _ in range(clients)]
        for start in range(0, clients, 5000):
            session.execute(
                insert(Client),
                [
                    {
                        "id": cid,
                        "office_id": office.id,
                        "given_name": f"Person{i}",
                        "family_name": f"{names[i % len(names)]}{i:06d}",
                        # bulk inserts skip the ORM's events: the search key by hand
                        "search_name": search_key(f"Person{i}", f"{names[i % len(names)]}{i:06d}"),
                        "birth_date": date(1980 + i % 30, 1 + i % 12, 1 + i % 28),
                        "country_of_origin": "SY",
                        "languages": ["ar"],
                        "arrival_date": date(2025, 1, 1),
                        "course_obligation": False,
                        "created_by": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, cid in enumerate(client_ids[start : start + 5000], start)
                ],
            )
        agreement_ids = []
        for cid in client_ids[:1000]:
            agreement = Agreement(
                client_id=cid,
                version=1,
                status="active",
                created_by="bench",
                goals=[
                    Goal(
                        position=0,
                        field="language",
                        target="B1",
                        due_date=date(2027, 6, 1),
                        steps=[
                            Step(
                                position=0,
                                description="Kurs",
                                owner_side="client",
                                due_date=date(2027, 1, 1),
                            )
                        ],
                    )
                ],
            )
            session.add(agreement)
            agreement_ids.append(agreement)
        session.flush()
        agreements = [str(a.id) for a in agreement_ids]
        users = [f"bench-{i}" for i in range(sessions)]
        for username in users:
            create_user(session, username, username, Role.COUNSELLOR, office.key, PASSWORD)
    if engine.dialect.name == "postgresql":
        # as autovacuum would after a bulk load: planner statistics and the visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return [str(c) for c in client_ids[:1000]], agreements, tenant.slug


def _path(response: requests.Response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login(base: str, slug: str, username: str) -> requests.Session:
    http = requests.Session()
    start = http.get(f"{base}/t/{slug}/login", allow_redirects=False, timeout=30)
    authorize = _path(start)
    form = http.get(base + authorize, timeout=30)
    token = CSRF.search(form.text)
    assert token, form.text[:500]
    answer = http.post(
        base + authorize,
        allow_redirects=False,
        timeout=30,
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
    )
    assert answer.status_code == 302, answer.text[:500]
    done = http.get(base + _path(answer), allow_redirects=False, timeout=30)
    assert done.status_code in (302, 303), done.text[:500]
    return http


def load(
    sessions: list[requests.Session], urls: list[str], per_session: int, think: float
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    lock = threading.Lock()

    def worker(index: int, http: requests.Session) -> None:
        pace = random.Random(index)
        if think:
            time.sleep(pace.uniform(0, think))  # sessions do not start in step
        for n in range(per_session):
            url = urls[(index + n) % len(urls)]
            started = time.perf_counter()
            response = http.get(url, timeout=60)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            kind = url.split("/t/freiburg/")[-1].split("/")[0].split("?")[0] or "bare"
            with lock:
                timings.setdefault(kind, []).append(elapsed)
            if think:
                time.sleep(pace.expovariate(1 / think))

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per session and page kind")
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds between a session's clicks"
    )
    parser.add_argument(
        "--workers", type=int, help="web processes (default: as integra up on PostgreSQL)"
    )
    parser.add_argument(
        "--saturation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure without think time",
    )
    parser.add_argument("--threads", type=int, help="per web process (default: as integra up)")
    parser.add_argument("--serve", type=int, nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(*args.serve)
        return
    from deploy.provisioning import deprovision_tenant
    from deploy.runner import default_threads, default_workers
    from deploy.web import WebWorkers, listening_socket
    from tenants.registry import load_registry
    from tenants.settings import load_settings

    home = tempfile.mkdtemp(prefix="portal-bench-")
    env = {
        **os.environ,
        "INTEGRA_HOME": home,
        "INTEGRA_DATABASE_URL": DATABASE_URL,
        "INTEGRA_DATABASE_PREFIX": f"pbench_{uuid.uuid4().hex[:6]}",
    }
    env.pop("INTEGRA_BROKER_URL", None)
    settings = load_settings(env)
    print(f"portal_bench: seeding {args.clients} clients ...", flush=True)
    clients, agreements, slug = seed(settings, args.clients, args.sessions)
    listener = listening_socket("127.0.0.1", 0)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    count = args.workers or default_workers(settings)
    threads = args.threads or default_threads(count)
    workers = WebWorkers(
        listener,
        count,
        lambda fd: [sys.executable, __file__, "--serve", str(fd), str(os.getpid()), str(threads)],
        env=env,
    )
    workers.start()
    print(f"server: {count} web processes × {threads} threads (waitress)", flush=True)
    try:
        # The socket listens already: this waits in its backlog until a worker is up.
        requests.get(f"{base}/healthz", timeout=120).raise_for_status()
        sessions = [login(base, slug, f"bench-{i}") for i in range(args.sessions)]
        pages = {
            "client list": [f"{base}/t/{slug}/clients?page={p}" for p in range(1, 40)]
            + [f"{base}/t/{slug}/clients?q=haddad00{d}" for d in range(10)],
            "client page": [f"{base}/t/{slug}/clients/{c}" for c in clients[:200]],
            "agreement page": [f"{base}/t/{slug}/agreements/{a}" for a in agreements[:200]],
            "bare Flask page (baseline)": [f"{base}/bare/"],
        }
        for http in sessions:  # warm up
            http.get(pages["client list"][0], timeout=60)
        for think in dict.fromkeys((args.think, 0.0) if args.saturation else (args.think,)):
            print(
                f"\n{args.clients} clients, {args.sessions} concurrent logged-in sessions, "
                f"{args.requests} requests each per page kind, "
                + (f"think time {think:g} s (mean)" if think else "no think time (saturation)")
            )
            print(f"{'page':28} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
            for name, urls in pages.items():
                started = time.perf_counter()
                timings = load(sessions, urls, args.requests, think)
                rate = args.sessions * args.requests / (time.perf_counter() - started)
                values = [v for vs in timings.values() for v in vs]
                print(
                    f"{name:28} {len(values):6d} {pct(values, 0.5):8.1f}"
                    f" {pct(values, 0.99):8.1f} {rate:7.1f}"
                )
        print("target: p99 ≤ 100 ms")
    finally:
        workers.stop()
        deprovision_tenant(settings, load_registry(settings.tenants_dir).require("freiburg"))


if __name__ == "__main__":
    main()
