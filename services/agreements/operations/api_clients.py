"""OAuth 2 API clients and their bearer tokens, stored as hashes in the tenant's database."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidInput, InvalidTransition, NotFound
from ..models import AccessToken, ApiClient, Office
from ..models.vocabulary import CASE_ROLES, Role
from ..principal import Principal
from . import audit


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


@dataclass(frozen=True)
class ApiClientEntry:
    """An API client as an administrator sees it (never its secret or tokens)."""

    client_id: str
    name: str
    role: str
    office_key: str | None
    created_at: datetime
    revoked_at: datetime | None
    active_tokens: int
    last_token_at: datetime | None


def list_api_clients(session: Session) -> list[ApiClientEntry]:
    """Every API client of the tenant, newest first, with its unexpired, unrevoked tokens."""
    now = utcnow()
    live = (
        select(
            AccessToken.client_id,
            func.count()
            .filter(AccessToken.expires_at > now, AccessToken.revoked_at.is_(None))
            .label("active"),
            func.max(AccessToken.issued_at).label("last"),
        )
        .group_by(AccessToken.client_id)
        .subquery()
    )
    rows = session.execute(
        select(ApiClient, Office.key, live.c.active, live.c.last)
        .outerjoin(Office, ApiClient.office_id == Office.id)
        .outerjoin(live, live.c.client_id == ApiClient.client_id)
        .order_by(ApiClient.created_at.desc(), ApiClient.client_id)
    )
    return [
        ApiClientEntry(
            client_id=client.client_id,
            name=client.name,
            role=client.role,
            office_key=office_key,
            created_at=client.created_at,
            revoked_at=client.revoked_at,
            active_tokens=int(active or 0),
            last_token_at=last,
        )
        for client, office_key, active, last in rows
    ]


def revoke_api_client(session: Session, principal: Principal, client_id: str) -> ApiClient:
    """Revoke a client and every token it holds: the next request with any of them is
    refused (tokens are checked against the database on each request, in every process)."""
    client = session.get(ApiClient, client_id, with_for_update=True)
    if client is None:
        raise NotFound("api_client")
    if client.revoked_at is not None:
        raise InvalidTransition(
            "already_revoked",
            "Dieser API-Zugang ist bereits widerrufen.",
            "This API client is already revoked.",
        )
    now = utcnow()
    client.revoked_at = now
    session.execute(
        update(AccessToken)
        .where(AccessToken.client_id == client_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit.record(session, principal, "revoke", "api_client", client_id, None)
    session.flush()
    return client
