"""The login throttle is shared by every process serving a tenant: two separately created
gateways (each with its own tenant app and engine, as two worker processes have) count the
same failures, because they live in the tenant's database. On PostgreSQL and SQLite.

Each test logs in from an address of its own, so its failures never lock out another test
(the platforms, and so the tables, last the whole session).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from deploy.wiring import tenant_dispatcher
from gateway.dispatch import TenantDispatcher
from services.agreements.db import utcnow
from services.agreements.identity import throttle as db_throttle
from services.agreements.identity.keys import load_identity_keys
from services.agreements.models import AuditEvent, AuthorizationCode, LoginFailure, StaffSession
from tests.fixtures.platform import Platform, unique

from .conftest import StaffUser, login, make_user

TENANT = "freiburg"
WRONG = "wrong password!!"


@pytest.fixture
def gateways(platform: Platform) -> Iterator[tuple[TenantDispatcher, TenantDispatcher]]:
    """Two worker processes' gateways over the same tenant database."""
    made = [tenant_dispatcher(platform.settings, platform.registry) for _ in range(2)]
    yield made[0], made[1]
    for dispatcher in made:
        dispatcher.dispose()


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """The throttle's clock stands still unless a test moves it: its waits (a growing delay,
    seconds at first) must not run out while a slow machine logs in."""
    now = [utcnow()]
    monkeypatch.setattr(db_throttle, "utcnow", lambda: now[0])

    def advance(by: timedelta) -> None:
        now[0] += by

    return advance


def new_address() -> str:
    token = unique()
    return f"2001:db8::{token[:4]}:{token[4:]}"


def browser(gateway: TenantDispatcher, address: str) -> Client:
    """A browser whose requests come from ``address``."""

    def from_address(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ["REMOTE_ADDR"] = address
        return gateway(environ, start_response)

    return Client(from_address)


def stored_failures(platform: Platform, kind: str, value: str) -> int:
    """Committed failure rows of one counter, found by the keyed hash the store must use."""
    secret = load_identity_keys(platform.settings.tenant_secrets_dir(TENANT)).derive(
        "login-throttle"
    )
    digest = hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()
    with platform.session(TENANT) as session:
        count = session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.kind == kind, LoginFailure.key == digest)
        )
    return count or 0


def row_counts(platform: Platform) -> dict[str, int]:
    models = (LoginFailure, AuditEvent, StaffSession, AuthorizationCode)
    return {model.__tablename__: platform.count(TENANT, model) for model in models}


def fail(http: Client, user: StaffUser, times: int) -> None:
    for _ in range(times):
        assert login(http, user, password=WRONG).status_code == 401


def test_failures_on_one_process_lock_the_user_out_on_another(
    platform: Platform, gateways: tuple[TenantDispatcher, TenantDispatcher]
) -> None:
    a, b = gateways
    address = new_address()
    user = make_user(platform, TENANT)
    fail(browser(a, address), user, 5)
    # Committed: another connection sees one row per counter, and only keyed hashes.
    assert stored_failures(platform, "user", user.username.lower()) == 5
    assert stored_failures(platform, "addr", address) == 5
    with platform.session(TENANT) as session:
        keys = set(session.scalars(select(LoginFailure.key)))
    assert user.username not in keys and address not in keys

    on_b = browser(b, new_address())  # another process, and another address: the user counts
    before = row_counts(platform)
    blocked = login(on_b, user)  # the right password
    assert blocked.status_code == 429
    assert "Zu viele Fehlversuche" in blocked.get_data(as_text=True)
    assert row_counts(platform) == before  # no failure row, no audit entry, no session, no code

    on_b.get(f"/t/{TENANT}/language/en?next=/t/{TENANT}/")
    blocked = login(on_b, user)
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert row_counts(platform) == before


def test_the_address_limit_is_shared_by_the_processes(
    platform: Platform, gateways: tuple[TenantDispatcher, TenantDispatcher]
) -> None:
    a, b = gateways
    address = new_address()
    on_a, on_b = browser(a, address), browser(b, address)
    for n in range(10):  # 20 failures, 10 on each process, each under the limit on its own
        fail(on_a, StaffUser(TENANT, f"nobody-a{n}-{unique()}"), 1)
        fail(on_b, StaffUser(TENANT, f"nobody-b{n}-{unique()}"), 1)
    assert stored_failures(platform, "addr", address) == 20

    user = make_user(platform, TENANT)
    assert login(on_a, user).status_code == 429
    assert login(on_b, user).status_code == 429
    assert login(browser(b, new_address()), user).status_code == 302  # the user is not locked


def test_a_login_on_one_process_clears_the_user_count_on_another(
    platform: Platform, gateways: tuple[TenantDispatcher, TenantDispatcher]
) -> None:
    a, b = gateways
    address = new_address()
    on_a = browser(a, address)
    user = make_user(platform, TENANT)
    fail(on_a, user, 4)
    assert login(browser(b, address), user).status_code == 302
    assert stored_failures(platform, "user", user.username.lower()) == 0
    assert stored_failures(platform, "addr", address) == 4  # the address's count stays

    fail(on_a, user, 4)  # a count kept on A alone would lock after the first of these
    assert login(on_a, user).status_code == 302


def test_the_lockout_ends_with_the_window_and_old_rows_are_deleted(
    platform: Platform,
    gateways: tuple[TenantDispatcher, TenantDispatcher],
    throttle_clock: Callable[[timedelta], None],
) -> None:
    a, b = gateways
    user = make_user(platform, TENANT)
    fail(browser(a, new_address()), user, 5)
    assert login(browser(b, new_address()), user).status_code == 429

    throttle_clock(timedelta(hours=1, seconds=1))  # the throttle's window
    assert stored_failures(platform, "user", user.username.lower()) == 5
    fail(browser(b, new_address()), StaffUser(TENANT, f"nobody-{unique()}"), 1)
    assert stored_failures(platform, "user", user.username.lower()) == 0  # expired, deleted
    assert login(browser(a, new_address()), user).status_code == 302
