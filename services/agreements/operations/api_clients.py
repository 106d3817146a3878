"""OAuth 2 API clients and their bearer tokens, stored as hashes in the tenant's database."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import ApiClient, Office
from ..models.vocabulary import CASE_ROLES, Role


def hash_secret(secret: str) -> str:
    """Secrets and tokens are 256-bit random values, so a plain SHA-256 suffices (no
    dictionary to guess from); it lets a token be looked up by its hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCredentials:
    client_id: str
    client_secret: str
    role: str
    office_key: str | None


def create_api_client(
    session: Session, name: str, role: Role, office_key: str | None = None
) -> IssuedCredentials:
    """A new API client; the secret exists only in the returned value."""
    office_id = None
    if role in CASE_ROLES:
        if not office_key:
            raise InvalidInput(
                "office_required",
                "Diese Rolle braucht eine Beratungsstelle (--office).",
                f"Role {role.value} needs an office (--office).",
            )
        office = session.scalar(select(Office).where(Office.key == office_key))
        if office is None:
            known = ", ".join(session.scalars(select(Office.key).order_by(Office.key)))
            raise InvalidInput(
                "office_unknown",
                f"Unbekannte Beratungsstelle {office_key!r}.",
                f"Unknown office {office_key!r}; known: {known}.",
            )
        office_id = office.id
    elif office_key:
        raise InvalidInput(
            "office_not_allowed",
            "Diese Rolle ist an keine Beratungsstelle gebunden.",
            f"Role {role.value} is not bound to an office.",
        )
    client_id = f"ic_{uuid.uuid4().hex}"
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiClient(
            client_id=client_id,
            secret_hash=hash_secret(secret),
            name=name,
            role=role,
            office_id=office_id,
        )
    )
    session.flush()
    return IssuedCredentials(client_id, secret, role.value, office_key)
