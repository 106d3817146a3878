"""Errors on portal pages are pages (in the user's language), not the API's JSON."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from werkzeug.exceptions import HTTPException

from ..context import db_session
from ..errors import DomainError

#: Paths that answer machines (JSON errors): the API, the token endpoints, the HSDS read API
#: and the identity provider's keys and metadata. Every other path (the login form of
#: ``/oidc/authorize`` too) is a page for people.
JSON_PREFIXES = ("/api/", "/oauth/", "/hsds/", "/.well-known/", "/oidc/token", "/oidc/jwks")


def wants_json(path: str) -> bool:
    return path.startswith(JSON_PREFIXES)


def http_error_page(error: HTTPException) -> ResponseReturnValue:
    """An HTTP error outside the API (unknown address, method, server error) as a page in
    the user's language, with the status; the API keeps its JSON."""
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return render_template("portal/error.html", message=None, code=f"http_{status}",
                           status=status), status, headers  # fmt: skip


class PortalError(Exception):
    """A refusal that is not a domain rule (e.g. a missing CSRF token)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def register_portal_error_handlers(bp: Blueprint) -> None:
    @bp.errorhandler(DomainError)
    def _domain(error: DomainError) -> ResponseReturnValue:
        db_session().rollback()
        message = error.en if getattr(get_locale(), "language", "de") == "en" else error.de
        return render_template(
            "portal/error.html", message=message, code=error.code, status=error.status
        ), error.status

    @bp.errorhandler(PortalError)
    def _portal(error: PortalError) -> ResponseReturnValue:
        return render_template("portal/error.html", message=None, code=error.code), error.status
