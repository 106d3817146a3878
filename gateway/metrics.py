"""The gateway's metrics, and ``/metrics``: the sum over every process of the installation.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``integra up`` sets it to ``var/metrics``, systemd
units and Kubernetes pods to a folder of their own) every process writes its counters to
files there and the scrape adds them up (prometheus_client's multiprocess mode), so it
does not matter which web process answers the scrape. Without it, the process's own.

Labels are bounded: request latency by method and route template (``/api/v1/clients/<id>``:
the tenant app's URL rule, never the path, never the tenant), requests by tenant and status
class (a counter per tenant is cheap: 400 tenants × 5 classes); see docs/operations.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

#: Route label of a request no URL rule of the tenant app matched (404, 405).
UNMATCHED = "(unmatched)"


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class HttpMetrics:
    def __init__(self) -> None:
        self.requests = Counter(
            "integra_http_requests",
            "HTTP requests by tenant and status class",
            ["tenant", "status"],
        )
        self.latency = Histogram(
            "integra_http_request_seconds",
            "HTTP request latency by route template (no tenant)",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.apps = Gauge(
            "integra_tenant_apps_loaded",
            "Tenant apps created, summed over the live web processes",
            multiprocess_mode="livesum",
        )


@cache
def http_metrics() -> HttpMetrics:
    """The process's HTTP metrics, created on first use (after ``integra up`` has chosen
    the multiprocess folder), once per process."""
    return HttpMetrics()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Scrape:
    """What one scrape reads: every process's metrics, then the scrape-time collectors."""

    def __init__(self, extra: Iterable[Collector]) -> None:
        self.extra = list(extra)

    def collect(self) -> Iterator[Metric]:
        folder = multiprocess_dir()
        if folder:
            yield from MultiProcessCollector(None, path=folder).collect()
        else:
            yield from REGISTRY.collect()
        for collector in self.extra:
            yield from collector.collect()


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text ``/metrics`` answers with."""
    scrape: Any = _Scrape(extra)
    return generate_latest(scrape)
