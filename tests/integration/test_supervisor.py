"""Processes per role: a supervised process that dies is started again, with a backoff that
grows while it keeps dying right after its start; stopping ends them all."""

from __future__ import annotations

import signal
import sys
import time

from deploy.process_types import PROCESS_TYPES
from deploy.supervisor import Supervisor


def test_a_killed_worker_is_restarted_and_stop_ends_all() -> None:
    supervisor = Supervisor()
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    worker = supervisor.add("worker-agreements", sleeper)
    other = supervisor.add("web-1", sleeper)
    supervisor.start()
    try:
        first = worker.process
        assert first is not None
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        deadline = time.monotonic() + 10
        while worker.process is first and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.05)
        assert worker.process is not first and worker.process is not None
        assert worker.process.poll() is None
        assert worker.restarts == 1 and worker.quick_deaths == 1
        assert other.restarts == 0
    finally:
        supervisor.stop(grace=5)
    assert all(m.process is not None and m.process.poll() is not None for m in supervisor.members)


def test_a_worker_that_keeps_dying_waits_longer_each_time() -> None:
    supervisor = Supervisor()
    crasher = supervisor.add("worker-connectors", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor.start()
    delays = []
    try:
        deadline = time.monotonic() + 10
        while crasher.restarts < 3 and time.monotonic() < deadline:
            supervisor.check()
            if crasher.restart_at is not None and len(delays) == crasher.restarts:
                delays.append(crasher.restart_at - time.monotonic())
            time.sleep(0.02)
    finally:
        supervisor.stop(grace=5)
    assert crasher.restarts == 3
    assert delays[0] < delays[1] < delays[2]


def test_the_process_types_are_declared_once_with_distinct_names() -> None:
    names = [kind.name for kind in PROCESS_TYPES]
    assert names == ["web", "worker-agreements", "worker-connectors"]
