"""Scale: hundreds of tenants under ``integra up`` on one machine, beside the 18-tenant run.

For each layout (embedded: SQLite + embedded bus; postgres: PostgreSQL + RabbitMQ;
pg-embedded-bus: PostgreSQL with the embedded bus, for the database side alone) and each
tenant count, tenants are generated from the shape of a shipped registry file into a temporary
registry folder (a unique database prefix and shared vhost per run), then:

- time to provision (``integra migrate``) and to start (until ``/healthz`` answers);
- time to the first answer of each tenant (a cold app per tenant);
- idle CPU over ``--idle-seconds`` (60 by default), RSS, threads and open files of the whole
  process tree, database connections (``pg_stat_activity`` of the run's login role);
- a referral round trip in the last tenant (client, consent, referral to the job centre,
  until the simulated agency's last answer is back).

Everything the run created is removed at the end: the temporary folder, the databases and
roles (``tenants.databases.drop_prefix``) and the broker's vhost and users.

    .venv/bin/python -m bench.scale_bench --layouts embedded --tenants 18 400
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "tenants" / "registry" / "freiburg.toml"
PG_URL = os.environ.get(
    "INTEGRA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("INTEGRA_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    layout: str
    tenants: int
    provision_s: float = 0.0
    provision_estimated: bool = False
    start_s: float = 0.0
    first_answer_ms: list[float] = field(default_factory=list)
    idle_cpu_pct: float = 0.0
    rss_mb: float = 0.0
    threads: int = 0
    open_files: int = 0
    processes: int = 0
    db_connections: int | None = None
    round_trip_s: float | None = None
    round_trip: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def generate_registry(target: Path, count: int, tag: str, port: int) -> list[str]:
    """``count`` registry files in the shape of the template, slugs ``<tag>-NNN``."""
    template = TEMPLATE.read_text()
    target.mkdir(parents=True)
    slugs = []
    for n in range(1, count + 1):
        slug = f"{tag}-{n:03d}"
        text = template.replace('slug = "freiburg"', f'slug = "{slug}"')
        text = re.sub(r'(?m)^name = "(.*)"$', rf'name = "\1 ({n})"', text, count=1)
        text = re.sub(r'(?m)^vhost = ".*"$', f'vhost = "{tag}.{slug}"', text)
        text = text.replace("/sim/freiburg/", f"/sim/{slug}/").replace(":8000/", f":{port}/")
        (target / f"{slug}.toml").write_text(text)
        slugs.append(slug)
    return slugs


def tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def footprint(pids: list[int]) -> tuple[float, int, int]:
    rss = threads = files = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            files += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        threads += int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss / 1024, threads, files


def db_connections(prefix: str) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE usename = :'role'"
    out = subprocess.run(
        ["psql", PG_URL, "-Atv", f"role={prefix}", "-f", "-"],
        input=query,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip() or 0)


def integra(env: dict[str, str], *args: str, timeout: float = 3600) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"integra {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def _created(response: requests.Response) -> dict[str, Any]:
    if response.status_code != 201:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def round_trip(env: dict[str, str], base: str, slug: str, office: str) -> tuple[float, list[str]]:
    creds = json.loads(
        integra(
            env,
            "tenant",
            "api-client",
            "create",
            slug,
            "--role",
            "counsellor",
            "--office",
            office,
            "--json",
        )
    )
    token = requests.post(
        f"{base}/t/{slug}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
        timeout=30,
    ).json()["access_token"]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    url = f"{base}/t/{slug}/api/v1"
    started = time.monotonic()
    now = datetime.now(UTC)
    person = _created(
        api.post(
            f"{url}/clients",
            json={
                "given_name": "Amina",
                "family_name": "Haddad",
                "birth_date": "1990-04-12",
                "country_of_origin": "SY",
                "languages": ["ar", "en"],
                "arrival_date": (now - timedelta(days=120)).date().isoformat(),
            },
            timeout=30,
        )
    )
    consent = _created(
        api.post(
            f"{url}/clients/{person['id']}/consents",
            json={
                "recipient_kind": "jobcenter",
                "purposes": ["work"],
                "data_categories": ["identity", "languages", "work_history"],
                "signed_at": (now - timedelta(hours=1)).isoformat(),
                "expires_at": (now + timedelta(days=365)).isoformat(),
            },
            timeout=30,
        )
    )
    referral = _created(
        api.post(
            f"{url}/referrals",
            json={
                "client_id": person["id"],
                "recipient_kind": "jobcenter",
                "purpose": "work",
                "consent_id": consent["id"],
            },
            timeout=30,
        )
    )
    deadline = time.monotonic() + 120
    body = referral
    while time.monotonic() < deadline:
        body = api.get(f"{url}/referrals/{referral['id']}", timeout=30).json()
        if body.get("status") in {"completed", "rejected", "aborted"}:
            break
        time.sleep(0.2)
    return time.monotonic() - started, [h["status"] for h in body.get("history", [])]


def clone_embedded(var: Path, slugs: list[str]) -> None:
    """Every tenant's files as copies of the first one's (its SQLite files, bus file and
    secrets): the embedded layout's provisioning is the same work for every tenant, and done
    400 times it would take most of an hour on a shared 2-core machine."""
    first = slugs[0]
    sources = [*(var / "tenants").glob(f"{first}.*sqlite3"), var / "bus" / f"{first}.sqlite3"]
    for slug in slugs[1:]:
        for source in sources:
            shutil.copy2(source, source.with_name(source.name.replace(first, slug, 1)))
        shutil.copytree(var / "secrets" / first, var / "secrets" / slug)


def run_one(
    layout: str, count: int, idle_seconds: float, workdir: Path, clone: bool = False
) -> Figures:
    tag = f"b{uuid.uuid4().hex[:6]}"
    home = workdir / tag
    port = free_port()
    slugs = generate_registry(home / "registry", count, tag, port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRA_")}
    env |= {
        "INTEGRA_HOME": str(home),
        "INTEGRA_TENANTS_DIR": str(home / "registry"),
        "INTEGRA_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    if layout in ("postgres", "pg-embedded-bus"):
        env["INTEGRA_DATABASE_URL"] = PG_URL
        env["INTEGRA_DATABASE_PREFIX"] = tag
    if layout == "postgres":
        env |= {
            "INTEGRA_DATABASE_URL": PG_URL,
            "INTEGRA_DATABASE_PREFIX": tag,
            "INTEGRA_BROKER_URL": AMQP_URL,
            "INTEGRA_BROKER_VHOST": tag,  # the run's own shared vhost
        }
    figures = Figures(layout, count)
    process = None
    try:
        began = time.monotonic()
        if clone and layout == "embedded":
            integra(env, "migrate", slugs[0])
            figures.provision_s = (time.monotonic() - began) * count
            figures.provision_estimated = True
            clone_embedded(home / "var", slugs)
        else:
            integra(env, "migrate", "--parallel", "2")
            figures.provision_s = time.monotonic() - began
        log = (home / "up.log").open("wb")
        began = time.monotonic()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.cli",
                "up",
                "--no-demo",
                "--simulate",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass  # not listening yet, or busy starting
            if process.poll() is not None or time.monotonic() - began > 900:
                raise RuntimeError(f"integra up did not start: see {home / 'up.log'}")
            time.sleep(0.2)
        figures.start_s = time.monotonic() - began
        for slug in slugs:
            t0 = time.perf_counter()
            answer = requests.get(f"{base}/t/{slug}/login", timeout=60)
            figures.first_answer_ms.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code < 500, (slug, answer.status_code)
        time.sleep(5)  # let the first passes settle
        pids = tree(process.pid)
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        time.sleep(idle_seconds)
        pids = tree(process.pid)
        figures.idle_cpu_pct = 100 * (cpu_seconds(pids) - cpu0) / (time.monotonic() - t0)
        figures.rss_mb, figures.threads, figures.open_files = footprint(pids)
        figures.processes = len(pids)
        if layout != "embedded":
            figures.db_connections = db_connections(tag)
        office = re.search(r'(?m)^key = "(mbe-[^"]+)"', TEMPLATE.read_text())
        figures.round_trip_s, figures.round_trip = round_trip(
            env, base, slugs[-1], office.group(1) if office else ""
        )
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                for pid in reversed(tree(process.pid)):
                    os.kill(pid, signal.SIGKILL)
        cleanup(layout, env)
    return figures


def cleanup(layout: str, env: dict[str, str]) -> None:
    if layout == "embedded":
        return
    sys.path.insert(0, str(ROOT))
    from deploy.wiring import bus_transport
    from tenants.databases import drop_prefix
    from tenants.registry import load_registry
    from tenants.settings import load_settings

    settings = load_settings(env)
    transport = bus_transport(settings)
    for tenant in load_registry(settings.tenants_dir).enabled():
        try:
            transport.deprovision(tenant)
        except Exception as exc:
            print(f"  broker cleanup of {tenant.slug}: {exc}", file=sys.stderr)
    if settings.broker_url:
        from messaging.broker_admin import drop_installation

        drop_installation(settings)  # the run's shared vhost and its workers' users
    drop_prefix(settings)


def report(rows: list[Figures]) -> None:
    print(
        "| layout | tenants | provision s | start s | first answer ms (median / p95 / max) "
        "| idle CPU % of a core | RSS MB | threads | open files | processes | DB conn "
        "| round trip s |"
    )
    print("|" + " --- |" * 12)
    for f in rows:
        answers = sorted(f.first_answer_ms)
        p95 = answers[int(0.95 * (len(answers) - 1))]
        trip = f"{f.round_trip_s:.1f} ({f.round_trip[-1] if f.round_trip else '-'})"
        print(
            f"| {f.layout} | {f.tenants} | {f.provision_s:.1f}"
            f"{' (est.)' if f.provision_estimated else ''} "
            f"| {f.start_s:.1f} "
            f"| {statistics.median(answers):.0f} / {p95:.0f} / {answers[-1]:.0f} "
            f"| {f.idle_cpu_pct:.1f} | {f.rss_mb:.0f} | {f.threads} | {f.open_files} "
            f"| {f.processes} | {f.db_connections if f.db_connections is not None else '-'} "
            f"| {trip} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--layouts",
        nargs="+",
        default=["embedded", "postgres"],
        choices=["embedded", "postgres", "pg-embedded-bus"],
    )
    parser.add_argument("--tenants", nargs="+", type=int, default=[18, 400])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument(
        "--clone",
        action="store_true",
        help="embedded: provision the first tenant and copy its files for the others "
        "(provisioning time then estimated as the first tenant's times the count)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="integra-scale-"))
    rows = []
    try:
        for layout in args.layouts:
            for count in args.tenants:
                print(f"{layout}, {count} tenants ...", file=sys.stderr, flush=True)
                rows.append(run_one(layout, count, args.idle_seconds, workdir, args.clone))
                report(rows[-1:])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    report(rows)


if __name__ == "__main__":
    main()
