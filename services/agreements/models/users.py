from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey


class User(UUIDPrimaryKey, Timestamps, Base):
    """A staff member of the tenant; logs in through the tenant's identity provider.

    With an external provider (e.g. Keycloak) a user is the subject ``external_subject`` of
    the issuer ``external_issuer``: the pair the id_token is checked against. Never the
    ``preferred_username``, which the provider lets its users change (or an administrator
    reuse), so it cannot tie a login to a person's case access.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("external_issuer", "external_subject"),)

    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    office_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offices.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    external_issuer: Mapped[str | None] = mapped_column(String(500))
    external_subject: Mapped[str | None] = mapped_column(String(255))


class ApiClient(Timestamps, Base):
    """An OAuth 2 client of the tenant's API (client-credentials grant).

    Only a hash of the secret is stored; the secret is shown once at creation.
    """

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    office_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offices.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccessToken(UUIDPrimaryKey, Base):
    """An issued bearer token, stored as a hash; valid only in this tenant's database."""

    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.client_id"))
    scope: Mapped[str] = mapped_column(String(200), default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
