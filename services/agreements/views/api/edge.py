"""What every view of the JSON API shares: how it is documented, how a request is let in,
and the one shape of its work (call one operation as the caller, commit, return the result)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import Session
from werkzeug.exceptions import UnsupportedMediaType

from tenants.text import (
    MAX_JSON_DEPTH,
    UNSAFE_TEXT,
    has_unsafe_line,
    json_depth,
    unsafe_text_paths,
)

from ...context import commit, current_principal, db_session
from ...errors import DomainError, InvalidInput
from ...identity.api_auth import authenticate_request
from ...principal import Principal
from ...schemas.common import ApiErrorSchema

#: The errors every view that takes a body can answer with (404 and 409 only some).
BODY_ERRORS = (400, 401, 403, 413, 415, 422)
#: The errors every view of case data that reads can answer with (404 only some).
READ_ERRORS = (401, 403, 422)

#: What each error status means wherever it is answered (its description in the document);
#: an operation adds its own rules, such as its 409 codes (``errors(..., rules=...)``).
MEANINGS: dict[int, str] = {
    400: "The body is not JSON, or nests deeper than 32 levels (`malformed_json`).",
    401: "No valid bearer token: none sent (`unauthenticated`), or an invalid, expired or "
    "revoked one (`invalid_token`); `WWW-Authenticate` carries the challenge.",
    403: "The caller's role has no access to case data or may not do this (`role_not_allowed`).",
    404: "Unknown id, or the id of another office's or another tenant's object: the two are "
    "indistinguishable (`client_not_found`, `agreement_not_found`, …).",
    409: "The object's state does not allow this.",
    413: "The body is larger than 1 MiB (`payload_too_large`).",
    415: "The body is not JSON: send `Content-Type: application/json` (`unsupported_media_type`).",
    422: "Well-formed but invalid input, `fields` naming each offending field "
    "(`invalid_input`). Text with control characters (but tab, line feed and carriage "
    "return) or invalid Unicode in the body, and any of these in a query parameter, is "
    "`invalid_text`.",
}

#: The challenge every 401 carries (RFC 6750).
CHALLENGE = {
    "WWW-Authenticate": {
        "description": 'the bearer challenge, e.g. `Bearer error="invalid_token"`',
        "required": True,
        "schema": {"type": "string"},
    }
}

#: The source of the views' flask-smorest decorators (``arguments``, ``response``,
#: ``alt_response``). They wrap the view function and note its documentation on the function
#: itself, and change nothing on the Blueprint they are called on; this one is never
#: registered. Each app serves the views from its own Blueprint (``make_api_blueprint``), which
#: copies those notes when the views are attached, so no two tenants' apps share a Blueprint.
document = Blueprint("api_documentation", __name__)

#: The methods whose body the API reads.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Result = TypeVar("Result")
Arguments = ParamSpec("Arguments")


def errors(*codes: int, rules: Mapping[int, str] | None = None) -> Callable[[Any], Any]:
    """Document the error responses ``codes`` in the platform's error body (ApiErrorSchema):
    what each means anywhere (:data:`MEANINGS`), then this operation's ``rules`` for it."""
    rules = rules or {}

    def decorate(view: Any) -> Any:
        for code in codes:
            description = " ".join(filter(None, (MEANINGS[code], rules.get(code))))
            view = document.alt_response(
                code,
                schema=ApiErrorSchema,
                description=description,
                headers=CHALLENGE if code == 401 else None,
            )(view)
        return view

    return decorate


def documented(
    status: int,
    schema: Any,
    *codes: int,
    body: Any = None,
    optional_body: bool = False,
    query: Any = None,
    rules: Mapping[int, str] | None = None,
    downloads: Mapping[int, Any] | None = None,
) -> Callable[[Any], Any]:
    """Document a view in one place: the ``body`` (or ``query``) it reads, what it answers
    with (``status``, ``schema``), and its error responses: those every view that takes a body
    (:data:`BODY_ERRORS`) or reads case data (:data:`READ_ERRORS`) can give, then ``codes``,
    with this operation's ``rules`` (as in :func:`errors`). ``optional_body``: no body (or
    ``{}``) is a valid request. ``downloads``: the other media types it can answer with, as
    OpenAPI responses."""

    def decorate(view: Any) -> Any:
        view = errors(*(READ_ERRORS if body is None else BODY_ERRORS), *codes, rules=rules)(view)
        view = document.response(status, schema)(view)
        if body is not None:
            view = document.arguments(body, required=not optional_body)(view)
        if query is not None:
            view = document.arguments(query, location="query")(view)
        if downloads is not None:
            view = document.doc(responses=downloads)(view)
        return view

    return decorate


def nested_blueprint(
    name: str, description: str, routes: Iterable[tuple[str, type[MethodView]]]
) -> Blueprint:
    """A Blueprint serving ``routes`` (path → view) inside the API's, so it shares the API's
    bearer authentication, error format and OpenAPI document. Built per app, like the API's."""
    blp = Blueprint(name, __name__, url_prefix="", description=description)
    for path, view in routes:
        blp.add_url_rule(path, view_func=view)
    return blp


def attachment(body: str | bytes, mimetype: str, filename: str) -> Response:
    """A download: ``body`` as a file the browser saves as ``filename``."""
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def call_and_commit(
    operation: Callable[Concatenate[Session, Principal, Arguments], Result],
    *args: Arguments.args,
    **kwargs: Arguments.kwargs,
) -> Result:
    """Call one operation in the request's session as the authenticated caller, and commit.

    Operations flush and never commit; this is the edge where the request's work (and the
    audit entries and outbox messages it added) becomes durable in one transaction. An error
    raised by the operation or the commit leaves nothing behind: the session is rolled back.
    """
    result = operation(db_session(), current_principal(), *args, **kwargs)
    commit()
    return result


def require_json_body() -> None:
    """A body that is not JSON is refused (415), never read as "no fields given"."""
    if request.method not in BODY_METHODS:
        return
    has_body = bool(request.content_length) or bool(request.headers.get("Transfer-Encoding"))
    if has_body and not request.is_json:
        raise UnsupportedMediaType()


def refuse_unsafe_input() -> None:
    """JSON nested deeper than any request needs is malformed (400); text with control
    characters or invalid Unicode, in the body or the query, is invalid (422, by field),
    before the view's schema or the database ever sees it. Only POST, PUT and PATCH have a
    body here: one sent with GET or DELETE is never read, so it is not judged either."""
    if request.method in BODY_METHODS and request.is_json and request.content_length:
        body = request.get_data(cache=True)
        if json_depth(body) > MAX_JSON_DEPTH:
            raise DomainError(
                "malformed_json",
                "Der Inhalt ist zu tief verschachtelt.",
                f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.",
            )
        data = request.get_json(silent=True)
        bad = {path: [UNSAFE_TEXT] for path in unsafe_text_paths(data)}
    else:
        bad = {}
    bad |= {
        f"query.{name}": [UNSAFE_TEXT]
        for name, value in request.args.items(multi=True)
        if has_unsafe_line(name) or has_unsafe_line(value)
    }
    if bad:
        raise InvalidInput(
            "invalid_text",
            "Steuerzeichen und ungültige Zeichen sind nicht erlaubt.",
            UNSAFE_TEXT,
            fields=bad,
        )


def admit_request() -> None:
    """Before every API view: a valid bearer token first (401), then a JSON body (415),
    then text every store and channel can carry (400, 422)."""
    authenticate_request()
    require_json_body()
    refuse_unsafe_input()
