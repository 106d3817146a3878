"""Staff login through the tenant's built-in OpenID Connect provider, sessions, logout."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from werkzeug.test import Client

from services.agreements.models import AuditEvent, StaffSession
from tests.fixtures.platform import Platform

from .conftest import csrf_of, login, make_user, path_of


def test_counsellor_logs_in_and_sees_the_dashboard(sqlite_platform: Platform, http: Client) -> None:
    user = make_user(sqlite_platform, "freiburg")
    done = login(http, user)
    assert done.status_code == 302
    assert path_of(done) == "/t/freiburg/"
    page = http.get("/t/freiburg/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Meine Fälle" in text  # German by default
    assert "Test " + user.username in text


def test_authorization_request_carries_pkce_s256_state_and_nonce(http: Client) -> None:
    start = http.get("/t/freiburg/login")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"] and query["nonce"]
    assert query["scope"] == ["openid profile"]
    cookie = start.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/t/freiburg" in cookie


def test_provider_refuses_authorization_without_pkce(http: Client) -> None:
    start = http.get("/t/freiburg/login")
    parts = urlsplit(start.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    del query["code_challenge"], query["code_challenge_method"]
    response = http.get(parts.path, query_string=query)
    assert response.status_code == 400


def test_wrong_password_is_refused_audited_and_throttled(
    sqlite_platform: Platform, http: Client
) -> None:
    user = make_user(sqlite_platform, "freiburg")
    for _ in range(5):
        refused = login(http, user, password="wrong password!!")
        assert refused.status_code == 401
    blocked = login(http, user)  # even the right password, until the window passes
    assert blocked.status_code == 429
    with sqlite_platform.session("freiburg") as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == f"user:{user.username}")
        ).all()
    assert actions.count("login_failed") == 5
    assert "login" not in actions


def test_session_is_server_side_and_logout_revokes_it(
    sqlite_platform: Platform, http: Client
) -> None:
    user = make_user(sqlite_platform, "freiburg")
    done = login(http, user)
    session_cookie = next(
        value
        for value in done.headers.getlist("Set-Cookie")
        if value.startswith("integra_session=")
    )
    raw = session_cookie.split(";")[0].split("=", 1)[1]
    assert len(raw) >= 40 and "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    page = http.get("/t/freiburg/")
    token = csrf_of(page)
    out = http.post("/t/freiburg/logout", data={"csrf_token": token})
    assert out.status_code == 302
    # The old cookie no longer opens anything, even if a copy was kept.
    replay = Client(sqlite_platform.dispatcher)
    replay.set_cookie("integra_session", raw, domain="localhost", path="/t/freiburg")
    assert replay.get("/t/freiburg/").status_code == 302
    with sqlite_platform.session("freiburg") as session:
        rows = session.scalars(select(StaffSession)).all()
        assert all(row.id_hash != raw for row in rows)  # only hashes are stored
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == f"user:{user.username}")
        ).all()
    assert "login" in actions and "logout" in actions


def test_pages_need_a_login(http: Client) -> None:
    response = http.get("/t/freiburg/clients")
    assert response.status_code == 302
    assert path_of(response).startswith("/t/freiburg/login?next=/t/freiburg/clients")


def test_security_headers_and_no_inline_script(sqlite_platform: Platform, http: Client) -> None:
    user = make_user(sqlite_platform, "freiburg")
    login(http, user)
    page = http.get("/t/freiburg/clients")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.get_data(as_text=True)


def test_form_post_without_csrf_token_is_refused(sqlite_platform: Platform, http: Client) -> None:
    user = make_user(sqlite_platform, "freiburg")
    login(http, user)
    response = http.post("/t/freiburg/clients/new", data={"given_name": "A", "family_name": "B"})
    assert response.status_code == 400


def test_a_session_of_one_tenant_is_unknown_to_another(
    sqlite_platform: Platform, http: Client
) -> None:
    user = make_user(sqlite_platform, "freiburg")
    done = login(http, user)
    raw = (
        next(v for v in done.headers.getlist("Set-Cookie") if v.startswith("integra_session="))
        .split(";")[0]
        .split("=", 1)[1]
    )
    other = Client(sqlite_platform.dispatcher)
    other.set_cookie("integra_session", raw, domain="localhost", path="/t/essen")
    assert other.get("/t/essen/clients").status_code == 302


def test_language_switch_to_english(sqlite_platform: Platform, http: Client) -> None:
    user = make_user(sqlite_platform, "freiburg")
    login(http, user)
    http.get("/t/freiburg/language/en?next=/t/freiburg/")
    assert "My cases" in http.get("/t/freiburg/").get_data(as_text=True)
