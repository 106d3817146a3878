"""Operator benchmark (not a test): adding one tenant, and ``integra migrate --all`` over
18, 100 and 400 tenants on PostgreSQL.

(a) ``tenant add`` of one new tenant (PostgreSQL; embedded bus, and RabbitMQ if reachable),
    then its deletion; the median of three.
(b) ``migrate --all`` (deploy.migrate_all, the command's own code) over N tenants generated
    from the pilot registry files' shape into a temporary registry, under a database prefix of
    this run: first run (creates every schema), second run (all current), and a run with one
    pending migration in every store (the bus history is stepped back one revision in each
    store first, so each tenant has four stores to upgrade, like a release that changes the
    outbox). Beside it the raw baseline measured in the same run: reading each store's
    version over one connection, the least any migrate must do.

    .venv/bin/python bench/ops_bench.py [--sizes 18,100,400] [--workers N]

The bus is the embedded one for (b): hundreds of vhosts with quorum queues would strain the
shared RabbitMQ (docs/scale.md). Everything is dropped at the end (tenants.databases.drop_prefix).
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.migrate_all import default_workers, migrate_tenants  # noqa: E402
from deploy.tenant_data import admin_url, stores  # noqa: E402
from tenants.databases import drop_prefix, tenant_identifier  # noqa: E402
from tenants.registry import Tenant, load_registry  # noqa: E402
from tenants.settings import Settings, load_settings  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
SHIPPED = ROOT / "tenants" / "registry"


def generate_registry(folder: Path, count: int, tag: str) -> Path:
    """``count`` registry files shaped like the pilots' (round robin), slugs t0001…"""
    folder.mkdir(parents=True, exist_ok=True)
    pilots = sorted(SHIPPED.glob("*.toml"))
    for i in range(1, count + 1):
        text = pilots[(i - 1) % len(pilots)].read_text()
        slug = f"t{i:04d}"
        text = re.sub(r'(?m)^slug = ".*"$', f'slug = "{slug}"', text)
        text = re.sub(r'(?m)^vhost = ".*"$', f'vhost = "{tag}.{slug}"', text)
        (folder / f"{slug}.toml").write_text(text)
    return folder


def environment(home: Path, registry: Path, prefix: str, broker: bool = False) -> Settings:
    env = {
        "INTEGRA_HOME": str(home),
        "INTEGRA_TENANTS_DIR": str(registry),
        "INTEGRA_DATABASE_URL": PG_URL,
        "INTEGRA_DATABASE_PREFIX": prefix,
    }
    if broker:
        env["INTEGRA_BROKER_URL"] = BROKER_URL
    return load_settings(env)


def bench_add(work: Path, tag: str, broker: bool) -> float:
    """Median seconds of ``tenant add`` for one new tenant (deleted again after each)."""
    from deploy.tenant_lifecycle import add_tenant, delete_tenant

    registry = generate_registry(work / "reg-add", 1, tag)  # t0001 stays registered
    incoming = generate_registry(work / "incoming", 2, tag) / "t0002.toml"
    settings = environment(work, registry, f"opsbench_{tag}_add")
    if broker:
        settings = environment(work, registry, f"opsbench_{tag}_add", broker=True)
    timings = []
    try:
        for _ in range(3):
            start = time.perf_counter()
            add_tenant(settings, load_registry(registry), incoming)
            timings.append(time.perf_counter() - start)
            delete_tenant(settings, load_registry(registry).require("t0002"))
            shutil.rmtree(settings.tenant_secrets_dir("t0002"), ignore_errors=True)
    finally:
        drop_prefix(settings)
    return statistics.median(timings)


def _step_back_bus(settings: Settings, tenant: Tenant) -> None:
    from messaging import store as bus_store
    from tenants.databases import create_tenant_engine

    for store in stores(tenant):
        engine = create_tenant_engine(settings, tenant, service=store.service)
        with engine.begin() as connection:
            bus_store.downgrade(connection, "-1")


def _step_back_all(settings: Settings, tenants: list[Tenant], workers: int) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(_step_back_bus, [settings] * len(tenants), tenants, chunksize=8))


def raw_versions(settings: Settings, tenants: list[Tenant]) -> float:
    """Seconds to read every store's bus version over one connection (the floor)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url(settings, tenants[0]))
    start = time.perf_counter()
    with engine.connect() as conn:
        for tenant in tenants:
            for store in stores(tenant):
                schema = tenant_identifier(settings, tenant, store.service)
                conn.execute(text(f'SELECT * FROM "{schema}".alembic_version_messaging')).all()  # noqa: S608
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def bench_migrate(work: Path, tag: str, count: int, workers: int) -> dict[str, float]:
    registry = generate_registry(work / f"reg-{count}", count, tag)
    settings = environment(work / f"home-{count}", registry, f"opsbench_{tag}_{count}")
    tenants = load_registry(registry).enabled()
    figures: dict[str, float] = {}
    try:
        for label in ("create", "current"):
            start = time.perf_counter()
            outcomes = migrate_tenants(settings, tenants, workers=workers)
            figures[label] = time.perf_counter() - start
            failed = [o for o in outcomes if o.failed]
            assert not failed, failed[:3]
        _step_back_all(settings, tenants, workers)
        start = time.perf_counter()
        outcomes = migrate_tenants(settings, tenants, workers=workers)
        figures["pending"] = time.perf_counter() - start
        assert all(o.state == "migrated" for o in outcomes), {o.state for o in outcomes}
        figures["raw"] = raw_versions(settings, tenants)
    finally:
        drop_prefix(settings)
    return figures


def broker_reachable() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="18,100,400")
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
        work = Path(tmp)
        print(f"tenant add, one new tenant (median of 3), tag {tag}:")
        print(f"  PostgreSQL + embedded bus    {bench_add(work / 'e', tag, False):6.2f} s")
        if broker_reachable():
            print(f"  PostgreSQL + RabbitMQ        {bench_add(work / 'r', tag, True):6.2f} s")
        print(f"\nmigrate --all, {args.workers} worker processes (seconds):")
        print(f"{'tenants':>8} {'create':>8} {'current':>8} {'pending':>8} {'raw floor':>10}")
        for count in (int(n) for n in args.sizes.split(",")):
            f = bench_migrate(work, tag, count, args.workers)
            print(
                f"{count:>8} {f['create']:>8.1f} {f['current']:>8.1f} {f['pending']:>8.1f} "
                f"{f['raw']:>10.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
