"""OAuth 2 for the tenant's API, with authlib: the client-credentials token endpoint and
bearer-token protection. Clients and tokens live in the tenant's own database, so a token
issued by one municipality is simply unknown to every other."""

from __future__ import annotations

import base64
import hmac
import urllib.parse
from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, current_app, g, request
from sqlalchemy import select

from ..context import commit, db_session, tenant_context
from ..db import utcnow
from ..errors import DomainError
from ..models import AccessToken, ApiClient
from ..models.vocabulary import Role
from ..operations.api_clients import hash_secret
from ..principal import Principal
from .keys import identity_keys
from .throttle import LoginThrottle, database_login_throttle


class OAuthClient(ClientMixin):
    def __init__(self, row: ApiClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.row.secret_hash, hash_secret(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class StoredToken(TokenMixin):
    def __init__(self, token: AccessToken, client: ApiClient) -> None:
        self.token = token
        self.client = client

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.token.scope

    def get_expires_in(self) -> int:
        return int((self.token.expires_at - self.token.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.token.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.token.revoked_at is not None or self.client.revoked_at is not None

    def get_user(self) -> None:
        return None

    def get_client(self) -> ClientMixin:
        return OAuthClient(self.client)


class TenantAuthorizationServer(AuthorizationServer):
    """authlib's server, answering every client-authentication failure alike (401, one
    message), so the token endpoint does not tell which client ids exist."""

    def handle_error_response(self, request: Any, error: Any) -> Any:
        if getattr(error, "error", None) == "invalid_client":
            return self.handle_response(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed."},
                [
                    ("Content-Type", "application/json"),
                    ("WWW-Authenticate", 'Basic realm="integra"'),
                    ("Cache-Control", "no-store"),
                    ("Pragma", "no-cache"),
                ],
            )
        return super().handle_error_response(request, error)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str) -> OAuthClient | None:
    row = db_session().get(ApiClient, client_id)
    if row is None or row.revoked_at is not None:
        return None
    return OAuthClient(row)


def _save_token(token: dict[str, Any], request: Any) -> None:
    now = utcnow()
    db_session().add(
        AccessToken(
            token_hash=hash_secret(token["access_token"]),
            client_id=request.client.get_client_id(),
            scope=token.get("scope", ""),
            issued_at=now,
            expires_at=now + timedelta(seconds=int(token["expires_in"])),
        )
    )


class TenantTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> StoredToken | None:
        row = (
            db_session()
            .execute(
                select(AccessToken, ApiClient)
                .join(ApiClient, AccessToken.client_id == ApiClient.client_id)
                .where(AccessToken.token_hash == hash_secret(token_string))
            )
            .first()
        )
        return StoredToken(*row) if row else None


class ApiProtector(ResourceProtector):
    """Renders OAuth errors in the API's error format, with the WWW-Authenticate header."""

    def raise_error_response(self, error: Any) -> None:
        raise Unauthenticated(dict(error.get_headers()), error.error)


class Unauthenticated(DomainError):
    status = 401

    def __init__(self, headers: dict[str, str], oauth_error: str) -> None:
        super().__init__(
            "unauthenticated" if oauth_error == "missing_authorization" else "invalid_token",
            "Gültiges Zugriffstoken erforderlich.",
            "A valid access token is required.",
        )
        self.headers = headers


def init_auth(app: Flask, token_lifetime: int) -> None:
    """The token endpoint (/oauth/token) and the bearer-token protector of this tenant."""
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": token_lifetime}
    server = TenantAuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(ClientCredentialsGrant)

    @app.post("/oauth/token")
    def issue_token() -> Any:
        client_id = _requested_client_id()
        throttle = token_throttle()
        keys = throttle.client_keys(client_id)
        wait = throttle.retry_after(keys) or _issue_rate_wait(client_id)
        if wait:
            raise TooManyRequests(wait)
        response = server.create_token_response()
        if response.status_code == 401 and db_session().get(ApiClient, client_id) is not None:
            # Only a known client's secret is worth guessing (ids are random 128-bit values):
            # failures for unknown ids are not counted, so they write nothing.
            throttle.failed(keys)
        elif response.status_code == 200:
            throttle.succeeded(keys)
        commit()
        return response

    protector = ApiProtector()
    protector.register_token_validator(TenantTokenValidator())
    app.extensions[_PROTECTOR] = protector


_PROTECTOR = "integra.protector"

#: Tokens one API client may obtain per minute: a well-behaved client reuses its token for
#: its lifetime (an hour by default); hundreds a minute mean a loop gone wrong or an attack.
TOKENS_PER_MINUTE = 30


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, wait: int) -> None:
        super().__init__(
            "too_many_requests",
            f"Zu viele Anfragen. Bitte in {wait} Sekunden erneut versuchen.",
            f"Too many requests. Please try again in {wait} seconds.",
        )
        self.headers = {"Retry-After": str(wait)}


def token_throttle() -> LoginThrottle:
    """Failed client authentications at the token endpoint, counted like failed logins (per
    client id: a growing wait, never a lock)."""
    return database_login_throttle(db_session(), identity_keys().derive("login-throttle"))


def _requested_client_id() -> str:
    """The client id the request names (HTTP Basic or the form), before it is checked."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
        return urllib.parse.unquote(decoded.partition(":")[0])
    return request.form.get("client_id", "")


def _issue_rate_wait(client_id: str) -> int:
    """Seconds until ``client_id`` may obtain another token (0: now)."""
    if not client_id:
        return 0
    since = utcnow() - timedelta(minutes=1)
    issued = list(
        db_session().scalars(
            select(AccessToken.issued_at)
            .where(AccessToken.client_id == client_id, AccessToken.issued_at > since)
            .order_by(AccessToken.issued_at)
        )
    )
    if len(issued) < TOKENS_PER_MINUTE:
        return 0
    oldest = issued[-TOKENS_PER_MINUTE]
    return max(1, int((oldest - since).total_seconds()) + 1)


def authenticate_request() -> Principal:
    """Validate the bearer token of the current request and remember the principal."""
    protector: ApiProtector = current_app.extensions[_PROTECTOR]
    try:
        stored: StoredToken = protector.acquire_token()
    except OAuth2Error as error:
        protector.raise_error_response(error)
        raise  # unreachable: raise_error_response always raises
    principal = Principal(
        actor=f"client:{stored.client.client_id}",
        role=Role(stored.client.role),
        tenant=tenant_context().tenant.slug,
        office_id=stored.client.office_id,
    )
    g.principal = principal
    return principal
