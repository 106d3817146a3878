"""Staff users and a logged-in browser-like client for portal tests over WSGI."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from werkzeug.test import Client, TestResponse

from tests.fixtures.platform import Platform
from tests.fixtures.staff import PASSWORD, StaffUser, make_user

__all__ = ["PASSWORD", "StaffUser", "csrf_of", "login", "make_user", "path_of"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def path_of(response: TestResponse) -> str:
    location = response.headers["Location"]
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def csrf_of(response: TestResponse) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(http: Client, user: StaffUser, password: str | None = None) -> TestResponse:
    """The whole code + PKCE flow as a browser walks it; returns the provider's answer to
    the password form, or the final redirect after the callback."""
    start = http.get(f"/t/{user.slug}/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    authorize = path_of(start)
    form = http.get(authorize)
    assert form.status_code == 200, form.get_data(as_text=True)
    answer = http.post(
        authorize,
        data={
            "csrf_token": csrf_of(form),
            "username": user.username,
            "password": password or user.password,
        },
    )
    if answer.status_code != 302:
        return answer
    return http.get(path_of(answer))


@pytest.fixture
def http(sqlite_platform: Platform) -> Client:
    return Client(sqlite_platform.dispatcher)
