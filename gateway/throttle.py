"""Login throttling: too many failed logins for one username, or from one address, within a
window lock further attempts for the rest of that window.

This module is the policy (limits, window, which counters an attempt counts against, how long
to wait); the failures themselves live in a ``FailureStore`` that every process serving the
tenant shares (the agreement service keeps them in the tenant's database, see
``services.agreements.identity.throttle``). A count kept per process would let an attacker
multiply the limits by the number of worker processes.

The check and the record are not one atomic step: attempts already in flight when the limit
is reached still finish (at most one per concurrent request handler), as with any check made
before a password is verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, Protocol


class ThrottleKey(NamedTuple):
    """One counter: a normalised username (``user``) or a client address (``addr``)."""

    kind: Literal["user", "addr"]
    value: str


class FailureStore(Protocol):
    """Where failed logins are kept; shared by every process that serves the tenant."""

    def recent(self, key: ThrottleKey, since: datetime) -> tuple[int, datetime | None]:
        """The number of failures of ``key`` later than ``since``, and the oldest of them."""
        ...

    def add(self, keys: Iterable[ThrottleKey], at: datetime, forget_before: datetime) -> None:
        """One failure per key at ``at``; failures at or before ``forget_before`` no longer
        count and may be deleted."""
        ...

    def clear(self, key: ThrottleKey) -> None:
        """Forget every failure of ``key``."""
        ...


class LoginThrottle:
    def __init__(
        self,
        store: FailureStore,
        *,
        clock: Callable[[], datetime],
        per_user: int = 5,
        per_address: int = 20,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        self.store = store
        self.clock = clock
        self.limits = {"user": per_user, "addr": per_address}
        self.window = window

    @staticmethod
    def keys(username: str, address: str) -> list[ThrottleKey]:
        return [ThrottleKey("user", username.strip().lower()), ThrottleKey("addr", address)]

    def retry_after(self, keys: Iterable[ThrottleKey]) -> int:
        """Whole seconds until another attempt is allowed (0: allowed now): a locked counter
        opens when its oldest failure inside the window leaves it."""
        now = self.clock()
        wait = timedelta(0)
        for key in keys:
            count, oldest = self.store.recent(key, now - self.window)
            if oldest is not None and count >= self.limits[key.kind]:
                wait = max(wait, oldest + self.window - now)
        seconds = wait.total_seconds()
        return int(seconds) + 1 if seconds > 0 else 0

    def failed(self, keys: Iterable[ThrottleKey]) -> None:
        now = self.clock()
        self.store.add(keys, now, forget_before=now - self.window)

    def succeeded(self, keys: Iterable[ThrottleKey]) -> None:
        """A successful login clears the username's count, not the address's: one good
        password must not reset an address that is trying many usernames."""
        for key in keys:
            if key.kind == "user":
                self.store.clear(key)
