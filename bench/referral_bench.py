"""Referral round trips through the whole chain, beside a raw pika round trip (not a test).

A round trip: POST /referrals → outbox → relay → RabbitMQ → connector (its inbox, its
delivery) → the agency's channel → simulated agency → its "received" answer → connector
intake → connector outbox → relay → RabbitMQ → agreement service inbox → the referral's
history. It ends when the agreement service committed ``referral.received`` (the inbox row's
``received_at``); it starts when the API committed the referral (``referrals.created_at``).

The baseline, measured in the same run: a pika client publishes a persistent message to a
durable quorum queue with publisher confirms, an echo consumer answers to a second quorum
queue, and the client consumes the answer: the raw cost of two broker hops with acks.

    .venv/bin/python bench/referral_bench.py                  # 2,000 referrals, AMQP channel
    .venv/bin/python bench/referral_bench.py --referrals 500 --rate 100 --channel webhook

Needs PostgreSQL and RabbitMQ (with the management plugin) on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pika
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from messaging.store import InboxMessage
from services.agreements.models import Referral
from services.agreements.models.vocabulary import Role
from services.agreements.operations.api_clients import create_api_client
from services.connectors.simulators import SimulationRules
from tenants.databases import create_tenant_engine
from tests.fixtures.factories import client_body, consent_body
from tests.fixtures.live import LivePlatform, start_live_platform

KIND_BY_CHANNEL = {
    "amqp": "arbeitsagentur",
    "webhook": "jobcenter",
    "xml_file": "auslaenderbehoerde",
}
PURPOSE = {"arbeitsagentur": "work", "jobcenter": "work", "auslaenderbehoerde": "residence"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- the raw baseline ----------------------------------------------------------------------------


def pika_round_trips(url: str, count: int, rate: float | None) -> tuple[float, list[float]]:
    """Request → echo → answer over two quorum queues; returns (round trips/s, latencies)."""
    vhost_queue = f"bench.{uuid.uuid4().hex[:8]}"
    requests_q, answers_q = f"{vhost_queue}.requests", f"{vhost_queue}.answers"
    setup = pika.BlockingConnection(pika.URLParameters(url))
    channel = setup.channel()
    for name in (requests_q, answers_q):
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    setup.close()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    done = threading.Event()

    def echo() -> None:
        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_qos(prefetch_count=100)
        for method, props, body in ch.consume(requests_q, inactivity_timeout=0.5):
            if done.is_set():
                break
            if method is None:
                continue
            ch.basic_publish(
                "",
                answers_q,
                body,
                pika.BasicProperties(delivery_mode=2, message_id=props.message_id),
            )
            ch.basic_ack(method.delivery_tag)
        conn.close()

    def collect() -> None:
        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        ch.basic_qos(prefetch_count=100)
        for method, props, _body in ch.consume(answers_q, inactivity_timeout=0.5):
            if method is not None:
                latencies.append(time.perf_counter() - sent_at[props.message_id])
                ch.basic_ack(method.delivery_tag)
            if len(latencies) >= count:
                break
        conn.close()

    threads = [threading.Thread(target=echo), threading.Thread(target=collect)]
    for t in threads:
        t.start()
    client = pika.BlockingConnection(pika.URLParameters(url))
    ch = client.channel()
    ch.confirm_delivery()
    started = time.perf_counter()
    for i in range(count):
        if rate:
            target = started + i / rate
            while time.perf_counter() < target:
                time.sleep(0.0005)
        message_id = uuid.uuid4().hex
        sent_at[message_id] = time.perf_counter()
        ch.basic_publish(
            "", requests_q, b"x" * 600, pika.BasicProperties(delivery_mode=2, message_id=message_id)
        )
    threads[1].join(120)
    elapsed = time.perf_counter() - started
    done.set()
    threads[0].join(10)
    for name in (requests_q, answers_q):
        ch.queue_delete(name)
    client.close()
    return len(latencies) / elapsed, latencies


# --- the platform path ---------------------------------------------------------------------------


def platform(home: Path, channel: str, run: str) -> Iterator[LivePlatform]:
    fast = {"decision_delay": 3600.0}  # only "received" is part of a round trip
    rules = {kind: SimulationRules.for_kind(kind, **fast) for kind in PURPOSE}
    yield from start_live_platform(
        home,
        {
            "INTEGRA_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
            "INTEGRA_DATABASE_PREFIX": f"rbench_{run}",
            "INTEGRA_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/",
        },
        ("freiburg",),
        f"rbench-{run}",
        rules=rules,
    )


def prepare(live: LivePlatform, kind: str, count: int) -> tuple[str, list[dict[str, Any]]]:
    tenant = live.registry.require("freiburg")
    engine = create_tenant_engine(live.settings, tenant, pool_size=1)
    with Session(engine) as session, session.begin():
        session.info["tenant"] = "freiburg"
        issued = create_api_client(session, "bench", Role.COUNSELLOR, tenant.offices[0].key)
    engine.dispose()
    token = live.token("freiburg", issued.client_id, issued.client_secret)
    base = f"{live.base_url}/t/freiburg/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    bodies = []
    for _ in range(count):
        person = http.post(f"{base}/clients", json=client_body(), timeout=10).json()
        consent = http.post(
            f"{base}/clients/{person['id']}/consents",
            json=consent_body(
                recipient_kind=kind,
                purposes=[PURPOSE[kind]],
                data_categories=["identity", "languages"],
            ),
            timeout=10,
        ).json()
        bodies.append(
            {
                "client_id": person["id"],
                "recipient_kind": kind,
                "purpose": PURPOSE[kind],
                "consent_id": consent["id"],
            }
        )
    return token, bodies


def run_referrals(
    live: LivePlatform,
    token: str,
    bodies: list[dict[str, Any]],
    rate: float | None,
    concurrency: int,
) -> tuple[float, list[float]]:
    base = f"{live.base_url}/t/freiburg/api/v1"
    local = threading.local()

    def post(index: int, started: float) -> str:
        if rate:
            target = started + index / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        if not hasattr(local, "http"):
            local.http = requests.Session()
            local.http.headers["Authorization"] = f"Bearer {token}"
        response = local.http.post(f"{base}/referrals", json=bodies[index], timeout=30)
        response.raise_for_status()
        return str(response.json()["id"])

    engine = create_tenant_engine(live.settings, live.registry.require("freiburg"), pool_size=1)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        ids = list(pool.map(lambda i: post(i, started), range(len(bodies))))
    wanted = {uuid.UUID(i) for i in ids}
    deadline = time.monotonic() + 120
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with Session(engine) as session:
            rows = session.execute(
                select(Referral.id, Referral.created_at, InboxMessage.received_at)
                .join(InboxMessage, InboxMessage.correlation_id == Referral.id)
                .where(InboxMessage.type == "referral.received")
            ).all()
        if len({r[0] for r in rows} & wanted) >= len(wanted):
            break
        time.sleep(0.2)
    engine.dispose()
    rows = [r for r in rows if r[0] in wanted]
    first = min(r[1] for r in rows)
    last = max(r[2] for r in rows)
    latencies = [(r[2] - r[1]).total_seconds() for r in rows]
    return len(rows) / max((last - first).total_seconds(), 1e-9), latencies


def report(name: str, throughput: float, latencies: list[float]) -> None:
    p50 = percentile(latencies, 0.5) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    print(
        f"  {name:34} {throughput:9.1f} round trips/s   p50 {p50:7.1f} ms"
        f"   p99 {p99:7.1f} ms   n={len(latencies)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="offered load of the latency run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--channel", choices=sorted(KIND_BY_CHANNEL), default="amqp")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    kind = KIND_BY_CHANNEL[args.channel]
    amqp = "amqp://guest:guest@127.0.0.1:5672/%2F"

    print(f"referral_bench: {args.referrals} referrals over the {args.channel} channel ({kind})")
    raw_max, raw_lat = pika_round_trips(amqp, args.referrals, None)
    raw_rated, raw_rated_lat = pika_round_trips(
        amqp, min(args.referrals, int(args.rate * 10)), args.rate
    )
    with tempfile.TemporaryDirectory() as home:
        gen = platform(Path(home), args.channel, run)
        live = next(gen)
        try:
            token, bodies = prepare(live, kind, args.referrals + int(args.rate * 10))
            max_tp, max_lat = run_referrals(
                live, token, bodies[: args.referrals], None, args.concurrency
            )
            rated_tp, rated_lat = run_referrals(
                live, token, bodies[args.referrals :], args.rate, args.concurrency
            )
        finally:
            for _ in gen:
                pass
    print("as fast as possible:")
    report("raw pika (2 hops, confirms, acks)", raw_max, raw_lat)
    report("platform (API → … → history)", max_tp, max_lat)
    print(f"  ratio platform / raw: {max_tp / raw_max:.3f}")
    print(f"at an offered load of {args.rate:.0f}/s:")
    report("raw pika", raw_rated, raw_rated_lat)
    report("platform", rated_tp, rated_lat)
    print("targets: ≥ 500 round trips/s; p99 ≤ 250 ms at 100/s")
    print(f"median latency spread, platform: {statistics.pstdev(rated_lat) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
