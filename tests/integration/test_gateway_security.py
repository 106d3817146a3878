"""The entrance behind a TLS-terminating proxy, and what it answers itself.

- Only with ``INTEGRA_TRUSTED_PROXIES`` are X-Forwarded-* believed: then cookies are Secure,
  HSTS is sent and the login's redirect URI is https; without it, forged headers change nothing.
- A Host that is not the platform's or a tenant's is refused (400), so no link or redirect
  URI is ever built from a forged one; a tenant's own host serves that tenant alone.
- The gateway's own answers carry security headers; ``/metrics`` is not public.
- Every API answer says ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client

from deploy.wiring import tenant_dispatcher
from services.agreements.models.vocabulary import Role
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.platform import Platform, obtain_token

DOMAIN = "integra.example"
FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": f"freiburg.{DOMAIN}",
    "X-Forwarded-For": "203.0.113.7",
}


def gateway(platform: Platform, **extra: str) -> Iterator[Client]:
    settings = load_settings(
        {"INTEGRA_HOME": str(platform.settings.home), "INTEGRA_DOMAIN": DOMAIN, **extra}
    )
    dispatcher = tenant_dispatcher(settings, load_registry(settings.tenants_dir))
    yield Client(dispatcher)
    dispatcher.dispose()


@pytest.fixture
def behind_proxy(sqlite_platform: Platform) -> Iterator[Client]:
    yield from gateway(sqlite_platform, INTEGRA_TRUSTED_PROXIES="1")


@pytest.fixture
def direct(sqlite_platform: Platform) -> Iterator[Client]:
    yield from gateway(sqlite_platform)


def test_behind_a_trusted_proxy_cookies_are_secure_and_redirects_https(
    behind_proxy: Client,
) -> None:
    start = behind_proxy.get("/login", headers=FORWARDED)
    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    assert (authorize.scheme, authorize.netloc) == ("https", f"freiburg.{DOMAIN}")
    redirect_uri = parse_qs(authorize.query)["redirect_uri"][0]
    assert redirect_uri == f"https://freiburg.{DOMAIN}/auth/callback"
    cookie = start.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert start.headers["Strict-Transport-Security"].startswith("max-age=")


def test_without_trusted_proxies_forwarded_headers_change_nothing(direct: Client) -> None:
    start = direct.get("/t/freiburg/login", headers=FORWARDED)
    authorize = urlsplit(start.headers["Location"])
    assert authorize.scheme == "http" and authorize.netloc == "localhost"
    assert "Secure" not in start.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in start.headers


@pytest.mark.parametrize("host", ["evil.example", "freiburg.integra.example.evil.example", ""])
def test_a_host_of_nobody_is_refused(direct: Client, host: str) -> None:
    response = direct.get("/t/freiburg/login", headers={"Host": host} if host else {})
    if not host:  # werkzeug's client sends localhost without a Host of its own
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert response.json["code"] == "unknown_host"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_tenants_host_serves_that_tenant_alone(direct: Client) -> None:
    own = direct.get("/login", headers={"Host": f"freiburg.{DOMAIN}"})
    assert own.status_code == 302
    other = direct.get("/t/essen/login", headers={"Host": f"freiburg.{DOMAIN}"})
    assert other.status_code == 404  # a path of freiburg's app, not essen's login


def test_the_gateways_own_answers_carry_security_headers(direct: Client) -> None:
    for path in ("/healthz", "/readyz", "/t/atlantis/"):
        response = direct.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_metrics_are_for_the_machine_itself_or_a_scraper_with_the_token(
    sqlite_platform: Platform,
) -> None:
    for client in gateway(sqlite_platform):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
        remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.4"})
        assert remote.status_code == 403 and remote.json["code"] == "metrics_not_public"
    for client in gateway(sqlite_platform, INTEGRA_METRICS_TOKEN="s3cret-scrape"):
        anyone = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.4"})
        assert anyone.status_code == 403
        scraper = client.get(
            "/metrics",
            environ_base={"REMOTE_ADDR": "198.51.100.4"},
            headers={"Authorization": "Bearer s3cret-scrape"},
        )
        assert scraper.status_code == 200
        assert b"integra_http_requests" in scraper.data


def test_metrics_behind_a_proxy_see_the_real_client(behind_proxy: Client) -> None:
    """The proxy connects from loopback: the client it names is who asks."""
    response = behind_proxy.get(
        "/metrics", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert response.status_code == 403


def test_api_answers_are_never_cached(platform: Platform) -> None:
    api = platform.api("freiburg", Role.COUNSELLOR)
    for response in (api.get("clients"), api.get("offices"), api.get("clients/not-a-uuid")):
        assert response.headers["Cache-Control"] == "no-store", response.status
    client_id, secret = platform.credentials("freiburg", Role.EVALUATOR)
    token = platform.http().post(
        "/t/freiburg/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert token.headers["Cache-Control"] == "no-store"
    assert obtain_token(platform.http(), "freiburg", client_id, secret)
