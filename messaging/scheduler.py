"""Shared workers: a bounded pool of threads and one timer thread for every tenant of a process.

Relays, inbox consumers, connector delivery passes and partner simulators of all tenants run as
*jobs* keyed per (tenant, role), e.g. ``("freiburg", "relay")``. The pool guarantees per key:

- serialization: a key runs on at most one thread at a time;
- coalescing: submitting a key that is already waiting does nothing; submitting a key that is
  running makes it run once more when it returns (a wake-up during a pass is never lost);
- a job returns ``None`` (nothing more to do until something wakes it) or a delay in seconds
  after which it runs again (``0``: at once, e.g. after a full batch). Delays go to one timer
  heap shared by the whole process; a key has at most one timer (the earliest wins).

So an idle tenant holds no thread, no timer and no polling loop: its jobs run only when a
commit, a broker delivery or a shared sweep wakes them, and the thread and timer count is the
pool's, whatever the number of tenants.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)

Key = Hashable
#: A job: returns None (wait to be woken) or seconds until it wants to run again.
Job = Callable[[], float | None]

#: After a job raises, it runs again after this many seconds, doubling up to MAX_FAILURE_DELAY.
FIRST_FAILURE_DELAY = 0.5
MAX_FAILURE_DELAY = 60.0


class WorkPool:
    """``threads`` worker threads and one timer thread, started by :meth:`start`."""

    def __init__(self, threads: int = 4, *, name: str = "integra-work") -> None:
        if threads < 1:
            raise ValueError("a work pool needs at least one thread")
        self.size = threads
        self.name = name
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._timer_changed = threading.Condition(self._lock)
        self._jobs: dict[Key, Job] = {}
        self._ready: deque[Key] = deque()
        self._queued: set[Key] = set()
        self._running: set[Key] = set()
        self._rerun: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._heap: list[tuple[float, int, Key]] = []
        self._timer_at: dict[Key, float] = {}
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    # registration --------------------------------------------------------------------------

    def register(self, key: Key, job: Job) -> None:
        """Make ``job`` the work of ``key`` (it runs only when submitted or timed)."""
        with self._lock:
            self._jobs[key] = job

    def unregister(self, key: Key) -> None:
        """Forget ``key``: waiting runs and its timer are dropped (a running one finishes)."""
        with self._lock:
            self._jobs.pop(key, None)
            self._timer_at.pop(key, None)
            self._rerun.discard(key)
            self._failures.pop(key, None)

    def registered(self, key: Key) -> bool:
        with self._lock:
            return key in self._jobs

    # waking --------------------------------------------------------------------------------

    def submit(self, key: Key) -> None:
        """Run ``key``'s job soon (coalesced; callable from any thread, also from a job)."""
        with self._lock:
            self._submit_locked(key)

    def _submit_locked(self, key: Key) -> None:
        if key not in self._jobs or self._stopping:
            return
        if key in self._running:
            self._rerun.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._ready.append(key)
            self._work.notify()

    def call_later(self, delay: float, key: Key) -> None:
        """Run ``key``'s job after ``delay`` seconds, unless an earlier timer of it is set."""
        if delay <= 0:
            self.submit(key)
            return
        when = time.monotonic() + delay
        with self._lock:
            if key not in self._jobs or self._stopping:
                return
            current = self._timer_at.get(key)
            if current is not None and current <= when:
                return
            self._timer_at[key] = when
            heapq.heappush(self._heap, (when, next(self._seq), key))
            if self._heap[0][2] == key:
                self._timer_changed.notify()

    # running -------------------------------------------------------------------------------

    def start(self) -> WorkPool:
        with self._lock:
            if self._threads:
                return self
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._worker, name=f"{self.name}-{n}", daemon=True)
                for n in range(self.size)
            ]
            self._threads.append(
                threading.Thread(target=self._timer, name=f"{self.name}-timer", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, let running jobs finish (``timeout`` in all), join the threads."""
        with self._lock:
            self._stopping = True
            self._ready.clear()
            self._queued.clear()
            self._heap.clear()
            self._timer_at.clear()
            self._work.notify_all()
            self._timer_changed.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _worker(self) -> None:
        while True:
            with self._lock:
                while not self._ready and not self._stopping:
                    self._work.wait()
                if self._stopping:
                    return
                key = self._ready.popleft()
                self._queued.discard(key)
                job = self._jobs.get(key)
                if job is None:
                    continue
                self._running.add(key)
            delay = self._run(key, job)
            with self._lock:
                self._running.discard(key)
                again = key in self._rerun
                self._rerun.discard(key)
                if again or delay == 0:
                    self._submit_locked(key)
            if delay is not None and delay > 0 and not again:
                self.call_later(delay, key)

    def _run(self, key: Key, job: Job) -> float | None:
        try:
            delay = job()
        except Exception:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(MAX_FAILURE_DELAY, FIRST_FAILURE_DELAY * 2 ** (failures - 1))
            log.exception("job %s failed (%d in a row); again in %.1fs", key, failures, delay)
            return delay
        self._failures.pop(key, None)
        return delay

    def _timer(self) -> None:
        with self._lock:
            while not self._stopping:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    when, _seq, key = heapq.heappop(self._heap)
                    if self._timer_at.get(key) == when:  # else superseded or unregistered
                        del self._timer_at[key]
                        self._submit_locked(key)
                timeout = self._heap[0][0] - now if self._heap else None
                self._timer_changed.wait(timeout)

    # looking in (tests, figures) -------------------------------------------------------------

    def threads(self) -> int:
        """Threads this pool runs (workers and the timer): independent of the tenant count."""
        return len(self._threads)

    def timers(self) -> int:
        """Timers pending (at most one per key that has work ahead)."""
        with self._lock:
            return len(self._timer_at)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or running (timers may be pending); True if reached."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._ready and not self._running and not self._rerun:
                    return True
            time.sleep(0.01)
        return False


class WakeEvent(threading.Event):
    """A ``threading.Event`` that also calls its ``hooks`` when set: code written for a loop
    of its own (waiting on the event) wakes a job of the shared pool as well."""

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[Callable[[], None]] = []

    def set(self) -> None:
        super().set()
        for hook in list(self.hooks):
            hook()
