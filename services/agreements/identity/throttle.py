"""Staff login throttling: the policy, and the failures it counts kept in the tenant's database.

Too many failed logins for one username, or from one address, within a window lock further
attempts for the rest of that window. The failures live in a ``FailureStore`` that every
process serving the tenant shares (:class:`DatabaseFailureStore`, the table
``login_failures``): a count kept per process would let an attacker multiply the limits by the
number of worker processes.

The check and the record are not one atomic step: attempts already in flight when the limit
is reached still finish (at most one per concurrent request handler), as with any check made
before a password is verified.

The store works on the request's session and only flushes: a refused login's failure rows
commit with the request's other writes (its audit entry), and a throttled attempt writes
nothing. Time comes from ``utcnow`` looked up at each request, like the rest of the identity
code, so tests can move it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, Protocol

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import LoginFailure


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


class DatabaseFailureStore:
    """``FailureStore`` on a tenant database session.

    Keys are stored as HMAC-SHA-256 of the value under ``secret`` (a tenant key): a copy of
    the table shows neither the usernames typed (sometimes a password) nor the addresses.
    """

    def __init__(self, session: Session, secret: bytes) -> None:
        self.session = session
        self.secret = secret

    def _digest(self, key: ThrottleKey) -> str:
        return hmac.new(self.secret, key.value.encode(), hashlib.sha256).hexdigest()

    def recent(self, key: ThrottleKey, since: datetime) -> tuple[int, datetime | None]:
        count, oldest = self.session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.kind == key.kind,
                LoginFailure.key == self._digest(key),
                LoginFailure.at > since,
            )
        ).one()
        return count, oldest

    def add(self, keys: Iterable[ThrottleKey], at: datetime, forget_before: datetime) -> None:
        rows = [{"kind": key.kind, "key": self._digest(key), "at": at} for key in keys]
        self.session.execute(delete(LoginFailure).where(LoginFailure.at <= forget_before))
        if rows:
            self.session.execute(insert(LoginFailure), rows)

    def clear(self, key: ThrottleKey) -> None:
        self.session.execute(
            delete(LoginFailure).where(
                LoginFailure.kind == key.kind, LoginFailure.key == self._digest(key)
            )
        )


def database_login_throttle(session: Session, secret: bytes) -> LoginThrottle:
    """The tenant's login throttle for one request, on that request's session."""
    return LoginThrottle(DatabaseFailureStore(session, secret), clock=utcnow)
