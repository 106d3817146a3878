"""Staff users and their server-side sessions: plain functions that flush, never commit
(the same contract as ``services.agreements.operations``)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidInput
from ..models import Office, StaffSession, User
from ..models.vocabulary import CASE_ROLES, Role
from ..operations import audit
from ..principal import Principal
from .passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password

#: A session ends after this long without a request ...
IDLE_TIMEOUT = timedelta(minutes=30)
#: ... and in any case this long after the login.
ABSOLUTE_TIMEOUT = timedelta(hours=10)


def principal_of(user: User, tenant: str) -> Principal:
    return Principal(
        actor=f"user:{user.username}", role=Role(user.role), tenant=tenant, office_id=user.office_id
    )


def create_user(
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    office_key: str | None = None,
    password: str | None = None,
    *,
    external: tuple[str, str] | None = None,
) -> User:
    """A user; case roles need an office, the other roles must not have one. ``external``:
    (issuer, subject) of the user at the tenant's external identity provider."""
    office_id = None
    if role in CASE_ROLES:
        office = session.scalar(select(Office).where(Office.key == office_key))
        if office is None:
            raise InvalidInput(
                "office_unknown",
                "Unbekannte Beratungsstelle.",
                "Unknown office.",
                fields={"office": ["unknown office"]},
            )
        office_id = office.id
    elif office_key:
        raise InvalidInput(
            "office_not_allowed",
            "Diese Rolle ist an keine Beratungsstelle gebunden.",
            "This role is not bound to an office.",
            fields={"office": ["not for this role"]},
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(
            "username_taken",
            "Der Benutzername ist vergeben.",
            "The username is taken.",
            fields={"username": ["taken"]},
        )
    if external is not None and session.scalar(
        select(User.id).where(
            User.external_issuer == external[0], User.external_subject == external[1]
        )
    ):
        raise InvalidInput(
            "external_subject_taken",
            "Diese Kennung des Identitätsanbieters gehört schon zu einem Benutzerkonto.",
            "This identity provider subject already belongs to a user.",
            fields={"external_subject": ["taken"]},
        )
    user = User(
        username=username,
        display_name=display_name,
        role=str(role),
        office_id=office_id,
        password_hash=None,
        active=True,
        external_issuer=external[0] if external else None,
        external_subject=external[1] if external else None,
    )
    if password is not None:
        set_password(user, password)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            "password_too_short",
            f"Das Passwort muss mindestens {MIN_LENGTH} Zeichen haben.",
            f"The password needs at least {MIN_LENGTH} characters.",
            fields={"password": ["too short"]},
        )
    user.password_hash = hash_password(password)


def check_credentials(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same cost either way)."""
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def find_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def _hash_id(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    cookie_value: str  # give to the browser; only its hash is stored
    row: StaffSession


def open_session(
    session: Session,
    user: User,
    tenant: str,
    *,
    subject: str,
    remote_addr: str,
    user_agent: str,
    now: datetime | None = None,
) -> OpenedSession:
    """A new server-side session after a successful login, audited as ``login``."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    row = StaffSession(
        id_hash=_hash_id(raw),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
        remote_addr=remote_addr[:45],
        user_agent=user_agent[:200],
        subject=subject[:200],
    )
    session.add(row)
    session.flush()
    audit.record(session, principal_of(user, tenant), "login", "user", user.id, None, via="portal")
    return OpenedSession(raw, row)


def active_session(
    session: Session, cookie_value: str, now: datetime | None = None
) -> tuple[StaffSession, User] | None:
    """The live session and its active user for a cookie value; touches ``last_seen_at``."""
    now = now or utcnow()
    found = session.execute(
        select(StaffSession, User)
        .join(User, StaffSession.user_id == User.id)
        .where(StaffSession.id_hash == _hash_id(cookie_value))
    ).first()
    if found is None:
        return None
    row, user = found
    if (
        row.revoked_at is not None
        or row.expires_at <= now
        or row.last_seen_at + IDLE_TIMEOUT <= now
        or not user.active
    ):
        return None
    if now - row.last_seen_at > timedelta(minutes=1):  # not a write on every request
        row.last_seen_at = now
    return row, user


def revoke_session(session: Session, row: StaffSession, user: User, tenant: str) -> None:
    """Logout: the session is dead at once, on every process."""
    row.revoked_at = utcnow()
    session.flush()
    audit.record(session, principal_of(user, tenant), "logout", "user", user.id, None)


def revoke_user_sessions(session: Session, user_id: uuid.UUID) -> int:
    """End every session of a user (deactivation, password reset, role change)."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_failed_login(session: Session, user: User | None, tenant: str, reason: str) -> None:
    """A refused login is audited against the user it tried (unknown names only logged)."""
    if user is not None:
        audit.record(
            session,
            principal_of(user, tenant),
            "login_failed",
            "user",
            user.id,
            None,
            reason=reason,
        )
