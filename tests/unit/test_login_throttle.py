"""The login throttle's policy over a fake store (the database store is exercised by
tests/portal/test_shared_login_throttle.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.agreements.identity.throttle import LoginThrottle, ThrottleKey

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FakeFailureStore:
    def __init__(self) -> None:
        self.failures: list[tuple[ThrottleKey, datetime]] = []

    def recent(self, key: ThrottleKey, since: datetime) -> tuple[int, datetime | None]:
        times = [at for k, at in self.failures if k == key and at > since]
        return len(times), min(times, default=None)

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


def make_throttle(clock: Clock, per_user: int = 5, per_address: int = 20) -> LoginThrottle:
    return LoginThrottle(
        FakeFailureStore(),
        clock=clock,
        per_user=per_user,
        per_address=per_address,
        window=timedelta(seconds=60),
    )


def test_locks_a_username_after_repeated_failures_for_the_window() -> None:
    clock = Clock()
    throttle = make_throttle(clock, per_user=3, per_address=100)
    keys = throttle.keys("Anna", "10.0.0.1")
    for _ in range(3):
        assert throttle.retry_after(keys) == 0
        throttle.failed(keys)
    assert throttle.retry_after(keys) == 61  # whole seconds, one more than the exact wait
    assert throttle.retry_after(throttle.keys("anna ", "10.0.0.2")) > 0  # same user, any address
    assert throttle.retry_after(throttle.keys("bert", "10.0.0.1")) == 0
    clock.advance(60)
    assert throttle.retry_after(keys) == 0


def test_the_wait_runs_from_the_oldest_failure_inside_the_window() -> None:
    clock = Clock()
    throttle = make_throttle(clock, per_user=2)
    keys = throttle.keys("anna", "10.0.0.1")
    throttle.failed(keys)
    clock.advance(20)
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 41
    clock.advance(39.5)
    assert throttle.retry_after(keys) == 1
    clock.advance(0.5)  # the first failure leaves the window; one failure is under the limit
    assert throttle.retry_after(keys) == 0
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 21  # the second failure is now the oldest


def test_locks_an_address_that_tries_many_usernames() -> None:
    throttle = make_throttle(Clock(), per_user=100, per_address=5)
    for n in range(5):
        throttle.failed(throttle.keys(f"user{n}", "10.0.0.9"))
    assert throttle.retry_after(throttle.keys("someone-new", "10.0.0.9")) > 0
    assert throttle.retry_after(throttle.keys("someone-new", "10.0.0.8")) == 0


def test_success_clears_the_username_but_not_the_address() -> None:
    throttle = make_throttle(Clock(), per_user=2, per_address=2)
    keys = throttle.keys("anna", "10.0.0.1")
    throttle.failed(keys)
    throttle.succeeded(keys)
    throttle.failed(keys)
    assert throttle.retry_after(throttle.keys("anna", "10.0.0.2")) == 0
    assert throttle.retry_after(throttle.keys("bert", "10.0.0.1")) > 0


def test_failures_older_than_the_window_are_forgotten_when_a_failure_is_recorded() -> None:
    clock = Clock()
    store = FakeFailureStore()
    throttle = LoginThrottle(store, clock=clock, window=timedelta(seconds=60))
    throttle.failed(throttle.keys("anna", "10.0.0.1"))
    clock.advance(61)
    throttle.failed(throttle.keys("bert", "10.0.0.2"))
    assert [key.value for key, _ in store.failures] == ["bert", "10.0.0.2"]
