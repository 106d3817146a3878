"""The staff login throttle's failures in the tenant's database (``login_failures``), so every
process and machine serving the tenant counts the same failures.

The store works on the request's session and only flushes: a refused login's failure rows
commit with the request's other writes (its audit entry), and a throttled attempt writes
nothing. Time comes from ``utcnow`` looked up at each request, like the rest of the identity
code, so tests can move it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from gateway.throttle import LoginThrottle, ThrottleKey

from ..db import utcnow
from ..models import LoginFailure


class DatabaseFailureStore:
    """``gateway.throttle.FailureStore`` on a tenant database session.

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
