"""Who is acting: the authenticated principal of a request or message handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .errors import Forbidden
from .models.vocabulary import CASE_ROLES, Role


@dataclass(frozen=True)
class Principal:
    actor: str  # "client:<id>" for API clients, "user:<name>" for staff, "service:<name>"
    role: Role
    tenant: str
    office_id: uuid.UUID | None = None

    @property
    def works_with_cases(self) -> bool:
        return self.role in CASE_ROLES and self.office_id is not None

    def require_case_access(self) -> uuid.UUID:
        """The office whose cases this principal may see; refuses roles without case access."""
        if not self.works_with_cases or self.office_id is None:
            raise Forbidden(
                "role_not_allowed",
                "Diese Rolle hat keinen Zugriff auf Falldaten.",
                "This role has no access to case data.",
            )
        return self.office_id

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(
                "role_not_allowed",
                "Diese Rolle darf diese Aktion nicht ausführen.",
                "This role may not perform this action.",
            )
