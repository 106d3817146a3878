"""Every error of the API as JSON: a machine code, a German and English message, field errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from ..schemas.common import ApiErrorSchema

_HTTP = {
    400: ("malformed_request", "Die Anfrage ist fehlerhaft.", "The request is malformed."),
    401: ("unauthenticated", "Anmeldung erforderlich.", "Authentication required."),
    403: ("forbidden", "Keine Berechtigung.", "Not allowed."),
    404: ("not_found", "Nicht gefunden.", "Not found."),
    405: ("method_not_allowed", "Methode nicht erlaubt.", "Method not allowed."),
    413: ("payload_too_large", "Die Anfrage ist zu groß.", "The request is too large."),
    415: (
        "unsupported_media_type",
        "Bitte JSON senden (Content-Type: application/json).",
        "Send JSON (Content-Type: application/json).",
    ),
    422: ("invalid_input", "Die Eingaben sind ungültig.", "The input is invalid."),
    429: ("too_many_requests", "Zu viele Anfragen.", "Too many requests."),
    500: ("internal_error", "Interner Fehler.", "Internal error."),
}


def _body(code: str, de: str, en: str, field_errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": {"de": de, "en": en}}
    if field_errors:
        body["fields"] = field_errors
    return body


class IntegraApi(Api):
    """flask-smorest's Api, with the platform's error format.

    Its document names every error status each operation answers with (``edge.errors``),
    in this format; flask-smorest's catch-all ``default`` response would promise its own
    error body for every other status instead, which this API never sends.
    """

    DEFAULT_ERROR_RESPONSE_NAME = None
    ERROR_SCHEMA = ApiErrorSchema
    #: Renders an error for people, where the path is not the API's (``create_app`` sets it
    #: to the portal's error page; ``wants_json`` tells the two apart).
    page_errors: Callable[[HTTPException], ResponseReturnValue] | None = None
    wants_json: Callable[[str], bool] = staticmethod(lambda path: True)

    def handle_http_exception(self, error: HTTPException) -> ResponseReturnValue:
        if self.page_errors is not None and not self.wants_json(request.path):
            return self.page_errors(error)
        status = error.code or 500
        code, de, en = _HTTP.get(status, ("http_error", str(error.name), str(error.name)))
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") or data.get("errors")
        field_errors: Any = None
        if isinstance(messages, dict):
            # webargs nests by location ({"json": {...}}); a body error is the common case.
            field_errors = messages.get("json", messages) if len(messages) == 1 else messages
            if status == 400 and "json" in messages:
                code = "malformed_json"
                de, en = "Der Inhalt ist kein gültiges JSON.", "The body is not valid JSON."
                field_errors = None
        # The headers HTTP asks of the status (a 405's Allow, a 401's WWW-Authenticate), not
        # werkzeug's HTML Content-Type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return jsonify(_body(code, de, en, field_errors)), status, headers


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> ResponseReturnValue:
        headers = getattr(error, "headers", {})
        return jsonify(error.to_dict()), error.status, headers
