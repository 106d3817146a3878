"""Broker topology benchmark (not a test): what a restart costs at hundreds of tenants.

On a private RabbitMQ node (never the shared one on 5672), each scenario gets a fresh node,
imports one definitions file and measures: import time, memory (RSS as the node reports it),
``stop_app``, ``start_app`` and boot after ``kill -9`` until the node answers again, beside
the boot of the same node while still empty (``(empty)``). ``back`` counts the queues listed
after the boot (in the shared vhost, or in the last tenant's vhost). Every
``rabbitmqctl`` call starts an Erlang VM; that cost is measured alone (``ctl baseline``) and
printed beside the figures, which include it.

Scenarios (the names and permissions come from ``messaging.topology``):

- ``shared``: one vhost, a user per tenant (resource permissions ``^<slug>\\.``, topic
  permissions on the three exchanges), the tenant's classic queues (the chosen topology);
- ``vhost-per-tenant``: the former layout, a vhost and users per tenant, the same queues
  (classic, to show the cost of the vhosts alone; the former queues were quorum queues);
- ``shared-quorum`` / ``shared-classic``: fewer tenants (``--quorum-tenants``), the same queues
  as quorum or classic queues: the cost of a quorum queue where traffic is low.

    .venv/bin/python bench/broker_bench.py [--tenants 400] [--quorum-tenants 40]
        [--scenarios shared,vhost-per-tenant,shared-quorum,shared-classic] [--timeout 300]

The node: RABBITMQ_NODENAME=bench@localhost, AMQP port 5699, distribution port 25699, data and
logs under a temporary folder, no plugins (so no management listener), its own Erlang cookie.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from messaging import topology  # noqa: E402
from tenants.registry import BusEntry, DatabaseEntry, IdentityEntry, PartnerEntry, Tenant  # noqa: E402

RABBIT_BIN = Path(os.environ.get("INTEGRA_BENCH_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
NODE = "bench@localhost"
PORT = 5699
DIST_PORT = 25699
VHOST = "integra"
PARTNERS = (
    PartnerEntry(key="abh", kind="auslaenderbehoerde", name="ABH", channel="xml_file"),
    PartnerEntry(key="jc", kind="jobcenter", name="Jobcenter", channel="amqp"),
    PartnerEntry(key="aa", kind="arbeitsagentur", name="Agentur", channel="webhook"),
)


def bench_tenant(number: int) -> Tenant:
    """A tenant of the pilot's shape: three partner agencies, one of them on AMQP."""
    slug = f"t{number:04d}"
    return Tenant(
        slug=slug,
        name=slug,
        federal_state="NW",
        kind="city",
        offices=(),
        partners=PARTNERS,
        database=DatabaseEntry(),
        bus=BusEntry(vhost=f"integra.{slug}"),
        identity=IdentityEntry(),
    )


# --- definitions ----------------------------------------------------------------------------


def _queue(vhost: str, name: str, quorum: bool) -> dict[str, Any]:
    arguments = {"x-queue-type": "quorum"} if quorum else dict(topology.QUEUE_ARGUMENTS)
    return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
            "arguments": arguments}  # fmt: skip


def _bindings(vhost: str, tenant: Tenant) -> list[dict[str, Any]]:
    pairs = [(topology.EVENTS_EXCHANGE, s.name, s.binding_key) for s in topology.queues(tenant)]
    pairs += [
        (topology.DEAD_EXCHANGE, s.dead_letter_queue, s.name) for s in topology.queues(tenant)
    ]
    for pair in topology.agency_pairs(tenant):
        pairs += [(topology.AGENCY_EXCHANGE, q, q) for q in (pair.referrals, pair.answers)]
    return [
        {"source": source, "vhost": vhost, "destination": queue, "destination_type": "queue",
         "routing_key": key, "arguments": {}}
        for source, queue, key in pairs
    ]  # fmt: skip


def definitions(scenario: str, tenants: list[Tenant]) -> dict[str, Any]:
    quorum = scenario == "shared-quorum"
    per_tenant = scenario == "vhost-per-tenant"
    defs: dict[str, Any] = {"users": [], "vhosts": [], "permissions": [], "topic_permissions": [],
                            "queues": [], "exchanges": [], "bindings": []}  # fmt: skip
    vhosts = [t.vhost for t in tenants] if per_tenant else [VHOST]
    for vhost in vhosts:
        defs["vhosts"].append({"name": vhost})
        defs["exchanges"] += [
            {"name": x, "vhost": vhost, "type": "topic", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}}
            for x in topology.SHARED_EXCHANGES
        ]  # fmt: skip
    for tenant in tenants:
        vhost = tenant.vhost if per_tenant else VHOST
        user = topology.tenant_user(vhost, tenant)
        perms = topology.tenant_permissions(tenant)
        defs["users"].append({"name": user, "password": "bench", "tags": ""})
        defs["permissions"].append({"user": user, "vhost": vhost, **perms.resource()})
        defs["topic_permissions"] += [
            {"user": user, "vhost": vhost, "exchange": x, "write": w, "read": r}
            for x, (w, r) in perms.topics.items()
        ]
        defs["queues"] += [_queue(vhost, q, quorum) for q in topology.tenant_queue_names(tenant)]
        defs["bindings"] += _bindings(vhost, tenant)
    return defs


# --- the private node -----------------------------------------------------------------------


class Node:
    def __init__(self, base: Path) -> None:
        self.base = base
        home = base / "home"
        home.mkdir(parents=True)
        config = base / "rabbitmq.conf"
        config.write_text(f"listeners.tcp.local = 127.0.0.1:{PORT}\n")
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        self.env = {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": NODE,
            "RABBITMQ_NODE_PORT": str(PORT),
            "RABBITMQ_DIST_PORT": str(DIST_PORT),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", NODE, *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def timed_ctl(self, *args: str, timeout: float) -> float | None:
        """Seconds the command took, or None if it failed or ran past ``timeout``."""
        started = time.monotonic()
        try:
            done = self.ctl(*args, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return time.monotonic() - started if done.returncode == 0 else None

    def start(self, timeout: float) -> float | None:
        """Start the node detached; seconds until it has booted (None: not within timeout).
        ``await_startup`` fails at once while the node has not registered yet: poll it."""
        started = time.monotonic()
        subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while (left := timeout - (time.monotonic() - started)) > 0:
            try:
                done = self.ctl("-t", str(max(1, int(left))), "await_startup", timeout=left + 5)
            except subprocess.TimeoutExpired:
                return None
            if done.returncode == 0:
                return time.monotonic() - started
            time.sleep(0.5)
        return None

    def pid_from_proc(self) -> int | None:
        """The beam process whose command line names this node's own data folder (when the
        node is too busy to tell its pid)."""
        marker = str(self.base / "mnesia").encode()
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker in cmdline.read_bytes() and b"beam" in cmdline.read_bytes():
                    return int(cmdline.parent.name)
            except OSError:
                continue
        return None

    def pid(self) -> int | None:
        done = self.ctl("eval", "list_to_integer(os:getpid()).")
        return int(done.stdout.strip()) if done.returncode == 0 else None

    def rss_mb(self) -> float | None:
        try:
            done = self.ctl("status", "--formatter", "json", timeout=120)
        except subprocess.TimeoutExpired:  # a node too busy to answer has no figure
            return None
        if done.returncode != 0:
            return None
        total = json.loads(done.stdout).get("memory", {}).get("total", {})
        value = total.get("rss") or total.get("erlang")
        return round(value / 2**20, 1) if value else None

    def kill(self) -> None:
        try:
            pid = self.pid()
        except subprocess.TimeoutExpired:
            pid = self.pid_from_proc()
        if pid is not None:
            os.kill(pid, 9)
            time.sleep(1.0)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ctl("stop", timeout=30)
        self.kill()


def _fmt(seconds: float | None, limit: float) -> str:
    return f"> {limit:.0f} s" if seconds is None else f"{seconds:.1f} s"


def run_scenario(scenario: str, count: int, limit: float, ctl_baseline: list[float]) -> dict:
    tenants = [bench_tenant(i) for i in range(1, count + 1)]
    defs = definitions(scenario, tenants)
    base = Path(tempfile.mkdtemp(prefix=f"broker-bench-{scenario}-"))
    node = Node(base)
    row: dict[str, Any] = {"scenario": scenario, "tenants": count, "queues": len(defs["queues"]),
                           "vhosts": len(defs["vhosts"]), "users": len(defs["users"])}  # fmt: skip
    try:
        row["fresh_boot"] = node.start(limit)  # the baseline: booting an empty node
        if row["fresh_boot"] is None:
            raise RuntimeError(f"private node did not start; see {base / 'log'}")
        started = time.monotonic()
        node.timed_ctl("status", timeout=60)
        ctl_baseline.append(time.monotonic() - started)
        path = base / "definitions.json"
        path.write_text(json.dumps(defs))
        row["import"] = node.timed_ctl("import_definitions", str(path), timeout=limit)
        row["rss_mb"] = node.rss_mb()
        row["stop_app"] = node.timed_ctl("stop_app", timeout=limit)
        row["start_app"] = node.timed_ctl("start_app", timeout=limit) if row["stop_app"] else None
        node.kill()
        row["boot_after_kill"] = node.start(limit)
        listed = node.ctl("list_queues", "-p", VHOST if "shared" in scenario else tenants[-1].vhost,
                          "name", "--no-table-headers", "--quiet", timeout=limit)  # fmt: skip
        row["queues_back"] = len(listed.stdout.split()) if listed.returncode == 0 else None
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=400)
    parser.add_argument("--quorum-tenants", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--scenarios", default="shared,vhost-per-tenant,shared-quorum,shared-classic"
    )
    args = parser.parse_args()
    baseline: list[float] = []
    rows = []
    for scenario in args.scenarios.split(","):
        count = args.quorum_tenants if scenario.startswith("shared-") else args.tenants
        print(f"-- {scenario}: {count} tenants ...", flush=True)
        row = run_scenario(scenario, count, args.timeout, baseline)
        rows.append(row)
        print(json.dumps(row), flush=True)
    ctl = min(baseline) if baseline else 0.0
    print(f"\nctl baseline (one rabbitmqctl call, included below): {ctl:.1f} s")
    head = f"{'scenario':18} {'tenants':>7} {'queues':>6} {'vhosts':>6} {'import':>9} "
    print(
        head
        + f"{'RSS MB':>7} {'stop':>9} {'start':>9} {'kill+boot':>10} {'(empty)':>8} {'back':>5}"
    )
    for r in rows:
        print(
            f"{r['scenario']:18} {r['tenants']:7} {r['queues']:6} {r['vhosts']:6} "
            f"{_fmt(r.get('import'), args.timeout):>9} {r.get('rss_mb') or '?':>7} "
            f"{_fmt(r.get('stop_app'), args.timeout):>9} "
            f"{_fmt(r.get('start_app'), args.timeout):>9} "
            f"{_fmt(r.get('boot_after_kill'), args.timeout):>10} "
            f"{_fmt(r.get('fresh_boot'), args.timeout):>8} {r.get('queues_back') or '?':>5}"
        )


if __name__ == "__main__":
    main()
