"""Login throttling: too many failed logins for one username, or from one address, within a
window lock further attempts for the rest of that window.

Per process (kept in memory); the platform's one-process default and a sticky load balancer
both keep the count where the attempts arrive. A shared store (the tenant database or
Redis) is the step for several gateway processes without stickiness.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable


class LoginThrottle:
    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"user": per_user, "addr": per_address}
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("user", username.strip().lower()), ("addr", address)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, keys: Iterable[tuple[str, str]]) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.limits[key[0]]:
                    wait = max(wait, failures[0] + self.window - now)
        return int(wait) + 1 if wait else 0

    def failed(self, keys: Iterable[tuple[str, str]]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                if key[0] == "user":
                    self._failures.pop(key, None)
