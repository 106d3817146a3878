"""The shared work pool: per-key serialization and coalescing, one timer heap, bounded threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from messaging.scheduler import WakeEvent, WorkPool

from .helpers import wait_for


@pytest.fixture
def pool() -> Iterator[WorkPool]:
    pool = WorkPool(3).start()
    yield pool
    pool.stop()


def test_a_key_never_runs_twice_at_once_and_a_wake_while_running_is_not_lost(
    pool: WorkPool,
) -> None:
    running = 0
    most = 0
    runs = 0
    lock = threading.Lock()
    release = threading.Event()

    def job() -> None:
        nonlocal running, most, runs
        with lock:
            running += 1
            most = max(most, running)
            runs += 1
        release.wait(5)
        with lock:
            running -= 1

    pool.register("k", job)
    pool.submit("k")
    wait_for(lambda: runs == 1, what="first run started")
    for _ in range(20):  # while it runs: all of these fold into one more run
        pool.submit("k")
    release.set()
    assert pool.wait_idle()
    assert most == 1
    assert runs == 2


def test_waiting_submissions_coalesce() -> None:
    pool = WorkPool(1)  # not started: submissions only queue
    calls: list[str] = []
    pool.register("a", lambda: calls.append("a"))
    pool.register("b", lambda: calls.append("b"))
    for _ in range(50):
        pool.submit("a")
        pool.submit("b")
    pool.start()
    try:
        assert pool.wait_idle()
    finally:
        pool.stop()
    assert sorted(calls) == ["a", "b"]


def test_a_job_asks_for_its_next_run_on_the_shared_timer(pool: WorkPool) -> None:
    times: list[float] = []

    def job() -> float | None:
        times.append(time.monotonic())
        return 0.2 if len(times) < 3 else None

    pool.register("retry", job)
    pool.submit("retry")
    wait_for(lambda: len(times) == 3, what="three runs")
    assert times[1] - times[0] >= 0.18 and times[2] - times[1] >= 0.18
    time.sleep(0.3)
    assert len(times) == 3  # None: no timer left
    assert pool.timers() == 0


def test_a_key_has_at_most_one_timer_the_earliest(pool: WorkPool) -> None:
    calls: list[float] = []
    pool.register("t", lambda: calls.append(time.monotonic()))
    started = time.monotonic()
    pool.call_later(5.0, "t")
    pool.call_later(0.1, "t")
    pool.call_later(3.0, "t")
    assert pool.timers() == 1
    wait_for(lambda: len(calls) == 1, what="the earliest timer")
    assert calls[0] - started < 1.0
    assert pool.timers() == 0


def test_a_failing_job_is_retried_with_backoff(pool: WorkPool) -> None:
    attempts: list[float] = []

    def job() -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RuntimeError("database away")

    pool.register("flaky", job)
    pool.submit("flaky")
    wait_for(lambda: len(attempts) == 3, what="two retries")
    assert attempts[2] - attempts[1] > attempts[1] - attempts[0] > 0.4


def test_threads_and_timers_do_not_grow_with_the_number_of_keys(pool: WorkPool) -> None:
    before = threading.active_count()
    done: set[int] = set()
    for n in range(500):
        pool.register(n, lambda n=n: done.add(n))
        pool.submit(n)
    wait_for(lambda: len(done) == 500, what="every key ran")
    assert threading.active_count() == before
    assert pool.threads() == 4  # three workers and the timer
    assert pool.timers() == 0


def test_an_unregistered_key_does_not_run(pool: WorkPool) -> None:
    calls: list[int] = []
    pool.register("gone", lambda: calls.append(1))
    pool.call_later(0.1, "gone")
    pool.unregister("gone")
    pool.submit("gone")
    time.sleep(0.3)
    assert calls == []


def test_wake_event_calls_its_hooks() -> None:
    woken: list[int] = []
    event = WakeEvent()
    event.hooks.append(lambda: woken.append(1))
    event.set()
    assert event.is_set() and woken == [1]
