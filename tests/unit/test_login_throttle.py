from __future__ import annotations

from gateway.throttle import LoginThrottle


def test_locks_a_username_after_repeated_failures_for_the_window() -> None:
    now = [1000.0]
    throttle = LoginThrottle(per_user=3, per_address=100, window_seconds=60, clock=lambda: now[0])
    keys = throttle.keys("Anna", "10.0.0.1")
    for _ in range(3):
        assert throttle.retry_after(keys) == 0
        throttle.failed(keys)
    assert throttle.retry_after(keys) > 0
    assert throttle.retry_after(throttle.keys("anna ", "10.0.0.2")) > 0  # same user, any address
    assert throttle.retry_after(throttle.keys("bert", "10.0.0.1")) == 0
    now[0] += 61
    assert throttle.retry_after(keys) == 0


def test_locks_an_address_that_tries_many_usernames() -> None:
    throttle = LoginThrottle(per_user=100, per_address=5, window_seconds=60)
    for n in range(5):
        throttle.failed(throttle.keys(f"user{n}", "10.0.0.9"))
    assert throttle.retry_after(throttle.keys("someone-new", "10.0.0.9")) > 0


def test_success_clears_the_username_but_not_the_address() -> None:
    throttle = LoginThrottle(per_user=2, per_address=2, window_seconds=60)
    keys = throttle.keys("anna", "10.0.0.1")
    throttle.failed(keys)
    throttle.succeeded(keys)
    throttle.failed(keys)
    assert throttle.retry_after(throttle.keys("anna", "10.0.0.2")) == 0
    assert throttle.retry_after(throttle.keys("bert", "10.0.0.1")) > 0
