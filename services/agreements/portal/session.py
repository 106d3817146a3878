"""Who is logged in, per request: the server-side session behind the cookie, the principal,
the language, and CSRF enforcement on every form post of the portal."""

from __future__ import annotations

import urllib.parse
from typing import Any

from flask import Blueprint, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from tenants.text import has_unsafe_text

from ..context import commit, db_session, tenant_context
from ..identity import staff
from ..identity.keys import identity_keys
from ..identity.web_security import csrf_token, csrf_valid
from ..models import User
from ..schemas import iso_codes
from . import labels
from .errors import PortalError
from .messages import field_label, saved_message

SESSION_COOKIE = "integra_session"
LANG_COOKIE = "integra_lang"
LANGUAGES = ("de", "en")

#: Reachable without a session (the login flow itself and the static assets).
PUBLIC_ENDPOINTS = frozenset(
    {"portal.login", "portal.auth_callback", "portal.logged_out", "portal.language",
     "portal.static"}
)  # fmt: skip
#: Must not open a database transaction before its own work (see login.auth_callback).
NO_SESSION_LOOKUP = frozenset({"portal.auth_callback", "portal.static"})


def select_locale() -> str:
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in LANGUAGES else "de"


#: How dates and numbers are written per language: English as in Britain and Ireland
#: (1 April 2026, 01/04/2026), not the US order; the translations are those of "en".
FORMATTING_LOCALES = {"de": "de_DE", "en": "en_GB"}


def formatting_locale() -> str:
    """Flask-Babel's locale: the page's language with the region that formats it."""
    return FORMATTING_LOCALES[select_locale()]


def here() -> str:
    """The current page as a path including the tenant's prefix (for ``next=``)."""
    return request.script_root + request.full_path.rstrip("?")


def current_user() -> User | None:
    user: User | None = g.get("staff_user")
    return user


def _is_tenant_path(value: str, root: str) -> bool:
    """Whether ``value`` is a plain path under ``root`` that every browser reads as such.

    Browsers drop tabs and line breaks from URLs and read a backslash as a slash, so
    ``/\t/evil.example`` is ``//evil.example``: another host. Any control character,
    whitespace or backslash refuses the value; so do a scheme, a host, a leading ``//`` and
    dot segments that would climb out of the tenant's prefix (``/t/a/../b/``)."""
    if not value.startswith(root) or value.startswith("//"):
        return False
    decoded = urllib.parse.unquote(value)
    if any(_unsafe(ch) for ch in value) or any(_control(ch) for ch in decoded):
        return False
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc:
        return False
    if root == "/" and parts.path.startswith("/t/"):
        return False  # by host, /t/<tenant>/ is another tenant's address
    segments = urllib.parse.unquote(parts.path).split("/")
    return ".." not in segments and "." not in segments


def _control(ch: str) -> bool:
    return ord(ch) < 0x20 or ord(ch) == 0x7F


def _unsafe(ch: str) -> bool:
    """Unsafe as typed: browsers drop or reinterpret these (an encoded space is fine)."""
    return ch.isspace() or _control(ch) or ch == "\\"


def safe_next(value: str | None) -> str:
    """Only a path inside this tenant, in path and host mode: never another host, another
    tenant or a header injection (no open redirect); anything else means the dashboard."""
    if value and _is_tenant_path(value, request.script_root + "/"):
        return value
    return url_for("portal.dashboard")


def _csrf_key() -> bytes:
    return identity_keys().derive("portal-csrf")


def portal_csrf_token() -> str:
    return csrf_token(_csrf_key(), request.cookies.get(SESSION_COOKIE, ""))


def install_session_handling(bp: Blueprint) -> None:
    @bp.before_request
    def _refuse_unsafe_text() -> None:
        """Form fields and parameters with control characters or invalid Unicode are
        refused before any view reads them (PostgreSQL and XML could not store them)."""
        values = [*request.args.items(multi=True), *request.form.items(multi=True)]
        if any(has_unsafe_text(name) or has_unsafe_text(value) for name, value in values):
            raise PortalError("invalid_text", 400)

    @bp.before_request
    def _load_session() -> ResponseReturnValue | None:
        g.staff_user = None
        if request.endpoint in NO_SESSION_LOOKUP:
            return None
        cookie = request.cookies.get(SESSION_COOKIE)
        found = staff.active_session(db_session(), cookie) if cookie else None
        if found is not None:
            row, user = found
            g.staff_session, g.staff_user = row, user
            g.principal = staff.principal_of(user, tenant_context().tenant.slug)
            if db_session().dirty:
                commit()  # last_seen_at, touched once a minute
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if found is None:
            return redirect(
                url_for("portal.login", next=here() if request.method == "GET" else None)
            )
        if request.method not in ("GET", "HEAD", "OPTIONS") and not csrf_valid(
            _csrf_key(), cookie, request.form.get("csrf_token")
        ):
            raise PortalError("csrf", 400)
        return None

    @bp.app_context_processor
    def _template_globals() -> dict[str, Any]:
        return {
            "current_user": current_user,
            "csrf_token": portal_csrf_token,
            "tenant": tenant_context().tenant,
            "demo": tenant_context().demo,
            "current_lang": select_locale,
            "here": here,
            "label": labels.label,
            "field_label": field_label,
            "country_options": lambda: iso_codes.country_name_map(select_locale()),
            "language_options": lambda: iso_codes.language_names(select_locale()),
            "country_name": lambda code: iso_codes.country_name_map(select_locale()).get(
                code, code
            ),
            "language_names": lambda codes: ", ".join(
                iso_codes.language_name_map(select_locale()).get(c, c) for c in codes
            ),
            "saved_message": saved_message,
            "labels": labels,
            "language_name": lambda code: labels.LANGUAGE_NAMES.get(code, code),
        }
