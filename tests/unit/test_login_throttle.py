"""The login throttle's policy (a growing wait, never a lock) over a fake store (the database
store is exercised by tests/portal/test_shared_login_throttle.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.agreements.identity.throttle import ALLOWANCES, LoginThrottle, ThrottleKey

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FakeFailureStore:
    def __init__(self) -> None:
        self.failures: list[tuple[ThrottleKey, datetime]] = []

    def recent(self, key: ThrottleKey, since: datetime) -> tuple[int, datetime | None]:
        times = [at for k, at in self.failures if k == key and at > since]
        return len(times), max(times, default=None)

    def add(self, keys: Iterable[ThrottleKey], at: datetime, forget_before: datetime) -> None:
        self.failures = [(k, t) for k, t in self.failures if t > forget_before]
        self.failures += [(key, at) for key in keys]

    def clear(self, key: ThrottleKey) -> None:
        self.failures = [(k, t) for k, t in self.failures if k != key]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_throttle(clock: Clock, store: FakeFailureStore | None = None) -> LoginThrottle:
    return LoginThrottle(store or FakeFailureStore(), clock=clock)


def test_a_few_failures_cost_nothing() -> None:
    clock = Clock()
    throttle = make_throttle(clock)
    keys = throttle.keys("anna", "10.0.0.1")
    for _ in range(ALLOWANCES["pair"].free):
        assert throttle.retry_after(keys) == 0
        throttle.failed(keys)


def test_the_wait_doubles_with_each_further_failure_up_to_its_cap() -> None:
    """One address guessing one username's password: 30 s, 60 s, 120 s ... at most 15 min."""
    clock = Clock()
    throttle = make_throttle(clock)
    keys = throttle.keys("anna", "10.0.0.1")
    waits = []
    for _ in range(12):
        throttle.failed(keys)
        wait = throttle.retry_after(keys)
        waits.append(wait)
        clock.advance(wait)  # the guesser waits exactly as long as asked
        assert throttle.retry_after(keys) == 0
    assert waits[:5] == [0, 0, 0, 0, 31]  # whole seconds, one more than the exact 30 s
    assert waits[5:8] == [61, 121, 241]
    assert max(waits) == 15 * 60 + 1
    assert waits[-1] == 15 * 60 + 1


def test_nobody_can_lock_a_colleague_out() -> None:
    """Failures against a username from many addresses delay its owner, logging in from their
    own address, by at most a minute after the latest of them: never a lock."""
    clock = Clock()
    throttle = make_throttle(clock)
    for n in range(50):
        throttle.failed(throttle.keys("anna", f"10.9.0.{n}"))
        clock.advance(1)
    own = throttle.keys("anna", "192.168.1.20")
    wait = throttle.retry_after(own)
    assert 0 < wait <= 61
    clock.advance(wait)
    assert throttle.retry_after(own) == 0


def test_an_address_trying_many_usernames_slows_down() -> None:
    clock = Clock()
    throttle = make_throttle(clock)
    for n in range(ALLOWANCES["addr"].free):
        assert throttle.retry_after(throttle.keys(f"user{n}", "10.0.0.9")) == 0
        throttle.failed(throttle.keys(f"user{n}", "10.0.0.9"))
    assert throttle.retry_after(throttle.keys("someone-new", "10.0.0.9")) > 0
    assert throttle.retry_after(throttle.keys("someone-new", "10.0.0.8")) == 0


def test_success_clears_the_username_and_pair_but_not_the_address() -> None:
    clock = Clock()
    throttle = make_throttle(clock)
    keys = throttle.keys("anna", "10.0.0.1")
    for _ in range(ALLOWANCES["user"].free + 1):
        throttle.failed(keys)
    assert throttle.retry_after(keys) > 0
    throttle.succeeded(keys)
    assert throttle.retry_after(throttle.keys("anna", "10.0.0.2")) == 0
    counts = {k: throttle.store.recent(k, START - timedelta(hours=1))[0] for k in keys}
    assert [counts[k] for k in keys] == [0, ALLOWANCES["user"].free + 1, 0]


def test_failures_older_than_the_window_are_forgotten_when_a_failure_is_recorded() -> None:
    clock = Clock()
    store = FakeFailureStore()
    throttle = LoginThrottle(store, clock=clock, window=timedelta(seconds=60))
    throttle.failed(throttle.keys("anna", "10.0.0.1"))
    clock.advance(61)
    throttle.failed(throttle.keys("bert", "10.0.0.2"))
    assert [key.value for key, _ in store.failures] == ["bert", "10.0.0.2", "bert\x0010.0.0.2"]


def test_the_wait_counts_from_the_newest_failure() -> None:
    clock = Clock()
    throttle = make_throttle(clock)
    keys = throttle.keys("anna", "10.0.0.1")
    for _ in range(ALLOWANCES["pair"].free + 1):
        throttle.failed(keys)
        clock.advance(300)  # each failure long after the previous one's wait
    assert throttle.retry_after(keys) == 0
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 121  # seven failures: 30 s doubled twice, plus one
