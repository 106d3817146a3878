"""Staff login as an OpenID Connect relying party of the tenant's provider, logout, and the
language switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..context import commit, db_session, tenant_context
from ..identity import staff
from ..identity.keys import identity_keys
from ..identity.provider import (
    PORTAL_CLIENT_ID,
    portal_client_secret,
    portal_redirect_uri,
    user_for_claims,
)
from ..identity.relying_party import (
    HttpTransport,
    InProcessTransport,
    LoginFailed,
    LoginTransaction,
    ProviderConfig,
    Transport,
    discover,
    finish_login,
)
from ..identity.web_security import cookie_options
from .errors import PortalError
from .session import LANG_COOKIE, LANGUAGES, SESSION_COOKIE, safe_next

LOGIN_COOKIE = "integra_login"
LOGIN_MAX_AGE = 600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(identity_keys().derive("login-transaction"), salt="oidc-login")


def _cookie_path() -> str:
    return request.script_root or "/"


def _provider() -> tuple[ProviderConfig, Transport]:
    """The tenant's identity provider: built-in (in-process) or external (HTTPS)."""
    identity = tenant_context().tenant.identity
    if identity.provider == "builtin":
        base = request.url_root.rstrip("/")
        config = ProviderConfig(
            issuer=base,
            authorization_endpoint=base + "/oidc/authorize",
            token_endpoint=base + "/oidc/token",
            jwks_uri=base + "/oidc/jwks",
            client_id=PORTAL_CLIENT_ID,
            client_secret=portal_client_secret(),
        )
        return config, InProcessTransport(current_app._get_current_object(), base)  # type: ignore[attr-defined]
    assert identity.issuer and identity.client_id
    transport = HttpTransport()
    secret_file = (
        Path(tenant_context().settings.secrets_dir)
        / tenant_context().tenant.slug
        / ("oidc-client-secret")
    )
    secret = secret_file.read_text().strip() if secret_file.exists() else None
    return discover(identity.issuer, identity.client_id, transport, secret), transport


def register(bp: Blueprint) -> None:
    @bp.get("/login")
    def login() -> ResponseReturnValue:
        if g.get("staff_user") is not None:
            return redirect(safe_next(request.args.get("next")))
        try:
            provider, _transport = _provider()
        except LoginFailed:
            return render_template("portal/login_failed.html", reason="provider"), 502
        transaction = LoginTransaction.start(
            portal_redirect_uri(), safe_next(request.args.get("next"))
        )
        response = redirect(transaction.authorization_url(provider))
        response.set_cookie(
            LOGIN_COOKIE,
            _serializer().dumps(transaction.as_dict()),
            max_age=LOGIN_MAX_AGE,
            **cookie_options(request, path=_cookie_path()),
        )
        return response

    @bp.get("/auth/callback")
    def auth_callback() -> ResponseReturnValue:
        # No database work before the code is redeemed: the built-in provider runs in this
        # process and on SQLite needs the write lock this request would otherwise hold.
        tenant = tenant_context().tenant.slug
        try:
            raw = _serializer().loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_MAX_AGE)
            transaction = LoginTransaction.from_dict(raw)
            provider, transport = _provider()
            claims = finish_login(provider, transaction, dict(request.args.items()), transport)
        except (BadSignature, LoginFailed) as exc:
            reason = exc.reason if isinstance(exc, LoginFailed) else "transaction_invalid"
            current_app.logger.warning("login failed for tenant %s: %s", tenant, reason)
            response = current_app.make_response(
                (render_template("portal/login_failed.html", reason=reason), 400)
            )
            response.delete_cookie(LOGIN_COOKIE, path=_cookie_path())
            return response
        session = db_session()
        user = user_for_claims(claims)
        if user is None or not user.active:
            staff.record_failed_login(session, user, tenant, "no_active_user")
            commit()
            return render_template("portal/login_failed.html", reason="no_active_user"), 403
        opened = staff.open_session(
            session,
            user,
            tenant,
            subject=str(claims["sub"]),
            remote_addr=request.remote_addr or "",
            user_agent=request.user_agent.string,
        )
        commit()
        done = redirect(transaction.next_url)
        done.delete_cookie(LOGIN_COOKIE, path=_cookie_path())
        done.set_cookie(
            SESSION_COOKIE,
            opened.cookie_value,
            max_age=int(staff.ABSOLUTE_TIMEOUT.total_seconds()),
            **cookie_options(request, path=_cookie_path()),
        )
        return done

    @bp.post("/logout")
    def logout() -> ResponseReturnValue:
        user = g.get("staff_user")
        if user is None:
            raise PortalError("unauthenticated", 401)
        staff.revoke_session(db_session(), g.staff_session, user, tenant_context().tenant.slug)
        commit()
        response = redirect(url_for("portal.logged_out"))
        response.delete_cookie(SESSION_COOKIE, path=_cookie_path())
        return response

    @bp.get("/logged-out")
    def logged_out() -> ResponseReturnValue:
        return render_template("portal/logged_out.html")

    @bp.get("/language/<lang>")
    def language(lang: str) -> ResponseReturnValue:
        if lang not in LANGUAGES:
            raise PortalError("unknown_language", 404)
        response = redirect(safe_next(request.args.get("next")))
        options: dict[str, Any] = cookie_options(request, path=_cookie_path())
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, **options)
        return response
