"""Domain errors with a machine code and a German and English message.

Operations raise these; the app renders every one as
``{"code": ..., "message": {"de": ..., "en": ...}, "fields": {...}}`` with its HTTP status.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(
        self, code: str, de: str, en: str, *, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {en}")
        self.code = code
        self.de = de
        self.en = en
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": {"de": self.de, "en": self.en}}
        if self.fields:
            body["fields"] = self.fields
        return body


class InvalidInput(DomainError):
    """Well-formed but unacceptable input (e.g. a step id of another agreement)."""

    status = 422


class NotFound(DomainError):
    """Unknown id, or an id this principal may not see (other tenant, other office)."""

    status = 404

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what}_not_found",
            f"{_GERMAN.get(what, what)} nicht gefunden.",
            f"{what.replace('_', ' ').capitalize()} not found.",
        )


class Forbidden(DomainError):
    status = 403


class InvalidTransition(DomainError):
    """The object is in a state that does not allow this action."""

    status = 409


_GERMAN = {
    "client": "Klient/in",
    "consent": "Einwilligung",
    "agreement": "Vereinbarung",
    "referral": "Weiterleitung",
    "office": "Beratungsstelle",
    "step": "Schritt",
    "assessment": "Erfassung",
    "api_client": "API-Zugang",
    "user": "Benutzer/in",
}
