"""The tenant's built-in OpenID Connect provider (authlib), for the embedded default and the
tests: local users with argon2 hashes, authorization code flow with PKCE (S256 only),
id_tokens signed with the tenant's own key (joserfc).

Its one client is the tenant's portal. The provider keeps no session of its own: every
portal login asks for the password (no silent single sign-on across tenants or offices).
Endpoints, relative to the tenant: ``/.well-known/openid-configuration``, ``/oidc/authorize``
(the login form), ``/oidc/token``, ``/oidc/jwks``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from joserfc.jwk import RSAKey
from sqlalchemy import delete, select

from ..context import commit, db_session, tenant_context
from ..db import utcnow
from ..models import AuthorizationCode, User
from . import staff
from .keys import identity_keys
from .throttle import LoginThrottle, database_login_throttle
from .web_security import cookie_options, csrf_token, csrf_valid

PORTAL_CLIENT_ID = "integra-portal"
CODE_LIFETIME = timedelta(minutes=10)
ID_TOKEN_LIFETIME = 300
IDP_COOKIE = "integra_idp"


def login_throttle() -> LoginThrottle:
    """The throttle for this request: its failures are rows of the tenant's database, in the
    request's session (shared by every process; committed with the request)."""
    return database_login_throttle(db_session(), identity_keys().derive("login-throttle"))


def portal_client_secret() -> str:
    return identity_keys().derive("oidc-client:" + PORTAL_CLIENT_ID).hex()


def issuer() -> str:
    """The tenant's base URL as the browser sees it (path- or host-based)."""
    return request.url_root.rstrip("/")


def portal_redirect_uri() -> str:
    return url_for("portal.auth_callback", _external=True)


class PortalClient(ClientMixin):
    """The tenant's portal: a confidential client (client_secret_basic) that must also use
    PKCE, redirecting only to its own callback on the host the request came to."""

    def get_client_id(self) -> str:
        return PORTAL_CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return portal_redirect_uri()

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == portal_redirect_uri()

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, portal_client_secret())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class StoredCode:
    """authlib's view of an AuthorizationCode row."""

    row: AuthorizationCode

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class PortalCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def save_authorization_code(self, code: str, req: Any) -> None:
        now = utcnow()
        db_session().add(
            AuthorizationCode(
                code_hash=_code_hash(code),
                client_id=req.client.get_client_id(),
                user_id=req.user.id,
                redirect_uri=req.payload.redirect_uri or "",
                scope=req.scope or "",
                nonce=req.payload.data.get("nonce"),
                code_challenge=req.payload.data["code_challenge"],
                code_challenge_method=req.payload.data["code_challenge_method"],
                auth_time=now,
                expires_at=now + CODE_LIFETIME,
            )
        )

    def query_authorization_code(self, code: str, client: ClientMixin) -> StoredCode | None:
        row = db_session().get(AuthorizationCode, _code_hash(code))
        if row is None or row.client_id != client.get_client_id() or row.expires_at <= utcnow():
            return None
        return StoredCode(row)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        db_session().delete(authorization_code.row)

    def authenticate_user(self, authorization_code: StoredCode) -> User | None:
        user = db_session().get(User, authorization_code.row.user_id)
        return user if user is not None and user.active else None


class RequireS256(CodeChallenge):
    """PKCE is mandatory and only with S256 (RFC 9700), also for this confidential client."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class TenantOpenIDCode(OpenIDCode):
    def resolve_client_private_key(self, client: ClientMixin) -> RSAKey:
        return identity_keys().signing_key

    def get_client_algorithm(self, client: ClientMixin) -> str:
        return "RS256"

    def get_encode_header(self, client: ClientMixin) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(identity_keys().signing_key.kid)}

    def get_client_claims(self, client: ClientMixin) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": issuer(), "aud": [client.get_client_id()], "iat": now,
                "exp": now + ID_TOKEN_LIFETIME}  # fmt: skip

    def exists_nonce(self, nonce: str, req: Any) -> bool:
        found = db_session().scalar(
            select(AuthorizationCode.code_hash).where(AuthorizationCode.nonce == nonce)
        )
        return found is not None

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return UserInfo(sub=str(user.id), name=user.display_name, preferred_username=user.username)


def _query_client(client_id: str) -> PortalClient | None:
    return PortalClient() if client_id == PORTAL_CLIENT_ID else None


def _discard_token(token: dict[str, Any], req: Any) -> None:
    """The portal needs only the id_token; the access token is not stored, so it is
    accepted nowhere (the API takes client-credentials tokens only)."""


def _client_address() -> str:
    return request.remote_addr or "-"


def make_provider_blueprint() -> Blueprint:
    bp = Blueprint("idp", __name__)
    server = AuthorizationServer(query_client=_query_client, save_token=_discard_token)

    @bp.record_once
    def _init(state: Any) -> None:
        app: Flask = state.app
        server.init_app(app)
        server.register_grant(
            PortalCodeGrant, [RequireS256(required=True), TenantOpenIDCode(require_nonce=True)]
        )

    @bp.get("/.well-known/openid-configuration")
    def discovery() -> ResponseReturnValue:
        base = issuer()
        return jsonify(
            issuer=base,
            authorization_endpoint=base + "/oidc/authorize",
            token_endpoint=base + "/oidc/token",
            jwks_uri=base + "/oidc/jwks",
            response_types_supported=["code"],
            grant_types_supported=["authorization_code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=["openid", "profile"],
            token_endpoint_auth_methods_supported=["client_secret_basic"],
        )

    @bp.get("/oidc/jwks")
    def jwks() -> ResponseReturnValue:
        return jsonify(identity_keys().public_jwks())

    @bp.post("/oidc/token")
    def token() -> ResponseReturnValue:
        response = server.create_token_response()
        commit()
        return response

    def _login_page(
        error: str | None, status: int, binding: str, headers: dict[str, str] | None = None
    ) -> ResponseReturnValue:
        page = render_template(
            "idp/login.html",
            error=error,
            csrf=csrf_token(identity_keys().derive("idp-csrf"), binding),
            username=request.form.get("username", ""),
        )
        return page, status, headers or {}

    @bp.route("/oidc/authorize", methods=["GET", "POST"])
    def authorize() -> ResponseReturnValue:
        try:
            server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            # Never redirect to an unvalidated URI: show the error here.
            return render_template("idp/error.html", error=error.error), 400
        binding = request.cookies.get(IDP_COOKIE) or secrets.token_urlsafe(24)
        if request.method == "GET":
            response = current_app.make_response(_login_page(None, 200, binding))
            response.set_cookie(
                IDP_COOKIE, binding, max_age=1800, **cookie_options(request, path=_cookie_path())
            )
            return response
        key = identity_keys().derive("idp-csrf")
        if not csrf_valid(key, request.cookies.get(IDP_COOKIE), request.form.get("csrf_token")):
            return render_template("idp/error.html", error="csrf"), 400
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        throttle = login_throttle()
        keys = throttle.keys(username, _client_address())
        wait = throttle.retry_after(keys)
        if wait:
            if wait < 60:
                message = _("Too many failed attempts. Please try again in %(seconds)s seconds.",
                            seconds=wait)  # fmt: skip
            else:
                message = _("Too many failed attempts. Please try again in %(minutes)s minutes.",
                            minutes=(wait + 59) // 60)  # fmt: skip
            return _login_page(message, 429, binding, {"Retry-After": str(wait)})
        session = db_session()
        user = staff.check_credentials(session, username, password)
        tenant = tenant_context().tenant.slug
        if user is None:
            throttle.failed(keys)
            known = session.scalar(select(User).where(User.username == username))
            staff.record_failed_login(session, known, tenant, "bad_credentials")
            commit()
            return _login_page(_("Username or password is wrong."), 401, binding)
        throttle.succeeded(keys)
        session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at <= utcnow()))
        grant = server.get_consent_grant(end_user=user)
        response = server.create_authorization_response(grant_user=user, grant=grant)
        commit()
        return response

    return bp


def _cookie_path() -> str:
    return request.script_root or "/"


def user_for_claims(claims: dict[str, Any]) -> User | None:
    """The local user an id_token names: by id for the built-in provider; for an external one
    by the token's issuer and subject (``iss``, ``sub``), which the provider never reassigns.
    ``preferred_username`` is not used: a provider lets users change it, so another person
    could come to carry a colleague's name."""
    session = db_session()
    identity = tenant_context().tenant.identity
    if identity.provider == "builtin":
        try:
            return session.get(User, uuid.UUID(str(claims["sub"])))
        except ValueError:
            return None
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not subject:
        return None
    return session.scalar(
        select(User).where(User.external_issuer == issuer, User.external_subject == subject)
    )
