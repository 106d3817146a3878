"""Throttling credential guessing without locking anyone out: the policy, and the failures
it counts, kept in the tenant's database.

Every failed login counts against several keys: the username, the client address and the
pair of both; a failed client authentication at the token endpoint against the client id. A
key with few recent failures costs nothing; past its free allowance each further failure
doubles the wait before the next attempt with that key, up to a cap. There is no hard lock:
someone who fails five times against a colleague's username delays that colleague by at most
a minute, while the one guessing from one address against one username waits up to a quarter
of an hour between tries (the pair's cap). Failures leave the count after the window (an
hour, long enough for the waits to reach their caps).

The failures live in a ``FailureStore`` that every process serving the tenant shares
(:class:`DatabaseFailureStore`, the table ``login_failures``): a count kept per process would
let an attacker multiply the limits by the number of worker processes.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, Protocol

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import LoginFailure

KeyKind = Literal["user", "addr", "pair", "clnt"]


class ThrottleKey(NamedTuple):
    """One counter: a normalised username (``user``), a client address (``addr``), both
    together (``pair``) or an API client id (``clnt``)."""

    kind: KeyKind
    value: str


@dataclass(frozen=True)
class Allowance:
    """How a key's wait grows: ``free`` failures cost nothing; the next waits ``base``, each
    further one twice as long, never more than ``cap``."""

    free: int
    base: timedelta
    cap: timedelta

    def wait_after(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(self.cap, self.base * 2 ** (failures - self.free))


#: Defaults: a username alone never waits more than a minute (so nobody can lock a colleague
#: out); an address trying many usernames up to five minutes; one address guessing one
#: username's password up to fifteen.
ALLOWANCES: dict[str, Allowance] = {
    "user": Allowance(free=5, base=timedelta(seconds=1), cap=timedelta(minutes=1)),
    "addr": Allowance(free=20, base=timedelta(seconds=1), cap=timedelta(minutes=5)),
    "pair": Allowance(free=5, base=timedelta(seconds=30), cap=timedelta(minutes=15)),
    "clnt": Allowance(free=5, base=timedelta(seconds=1), cap=timedelta(minutes=5)),
}


class FailureStore(Protocol):
    """Where failed attempts are kept; shared by every process that serves the tenant."""

    def recent(self, key: ThrottleKey, since: datetime) -> tuple[int, datetime | None]:
        """The number of failures of ``key`` later than ``since``, and the newest of them."""
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
        allowances: Mapping[str, Allowance] | None = None,
        window: timedelta = timedelta(hours=1),
    ) -> None:
        self.store = store
        self.clock = clock
        self.allowances = {**ALLOWANCES, **(allowances or {})}
        self.window = window

    @staticmethod
    def keys(username: str, address: str) -> list[ThrottleKey]:
        """The keys a staff login counts against."""
        user = username.strip().lower()
        return [
            ThrottleKey("user", user),
            ThrottleKey("addr", address),
            ThrottleKey("pair", f"{user}\x00{address}"),
        ]

    @staticmethod
    def client_keys(client_id: str) -> list[ThrottleKey]:
        """The key a request to the token endpoint counts against: the client id it names.
        (Client ids are random 128-bit values: guessing one is hopeless, guessing a known
        client's secret is what to slow down; API clients often share an address.)"""
        return [ThrottleKey("clnt", client_id.strip())]

    def retry_after(self, keys: Iterable[ThrottleKey]) -> int:
        """Whole seconds until another attempt is allowed (0: allowed now): the longest wait
        any key asks for, counted from that key's newest failure."""
        now = self.clock()
        wait = timedelta(0)
        for key in keys:
            count, newest = self.store.recent(key, now - self.window)
            if newest is not None:
                wait = max(wait, newest + self.allowances[key.kind].wait_after(count) - now)
        seconds = wait.total_seconds()
        return int(seconds) + 1 if seconds > 0 else 0

    def failed(self, keys: Iterable[ThrottleKey]) -> None:
        now = self.clock()
        self.store.add(keys, now, forget_before=now - self.window)

    def succeeded(self, keys: Iterable[ThrottleKey]) -> None:
        """A success clears the username's and the pair's counts (and a client id's), not the
        address's: one good password must not reset an address trying many usernames."""
        for key in keys:
            if key.kind != "addr":
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
        count, newest = self.session.execute(
            select(func.count(), func.max(LoginFailure.at)).where(
                LoginFailure.kind == key.kind,
                LoginFailure.key == self._digest(key),
                LoginFailure.at > since,
            )
        ).one()
        return count, newest

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
