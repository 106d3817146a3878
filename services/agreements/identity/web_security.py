"""Browser-facing protections shared by every tenant app: security headers with a CSP that
allows no inline script, cookie flags, and CSRF tokens bound to a session.

A CSRF token is an HMAC of the session's random id under a per-tenant key, so it needs no
storage, differs per session and tenant, and is worthless to anyone without the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from flask import Flask, Request, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


#: The portal's static assets (no personal data; cacheable).
STATIC_PREFIX = "/assets/"


def is_https(request: Request) -> bool:
    return request.scheme == "https"


def add_security_headers(request: Request, response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if is_https(request):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith(STATIC_PREFIX):
        # Pages, documents and API answers carry personal data: never from a shared or
        # back-button cache. Only the portal's own style sheet and scripts may be kept.
        response.headers["Cache-Control"] = "no-store"
    return response


def install_security_headers(app: Flask) -> None:
    from flask import request

    @app.after_request
    def _headers(response: Response) -> Response:
        return add_security_headers(request, response)


def cookie_options(request: Request, *, path: str) -> dict[str, Any]:
    """HttpOnly and SameSite=Lax always; Secure whenever the request came over HTTPS.
    ``path`` keeps a tenant's cookies to its own /t/<tenant> prefix."""
    return {
        "httponly": True,
        "samesite": "Lax",
        "secure": is_https(request),
        "path": path or "/",
    }


def csrf_token(key: bytes, binding: str) -> str:
    digest = hmac.new(key, b"csrf:" + binding.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_valid(key: bytes, binding: str | None, token: str | None) -> bool:
    if not binding or not token:
        return False
    return hmac.compare_digest(csrf_token(key, binding), token)
