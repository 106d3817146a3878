from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, SerialPrimaryKey, UTCDateTime


class LoginFailure(SerialPrimaryKey, Base):
    """One failed staff login against one throttle counter (``identity.throttle``): kept in
    the tenant's database so that every process and machine serving the tenant sees one count.

    ``key`` is a keyed hash (HMAC-SHA-256 with a tenant secret), never the typed value: people
    type their password into the username field, and the table must not collect those. Client
    addresses are hashed the same way: the policy only compares them, and a table of who tried
    to log in from where is personal data nobody needs (the hash is keyed because all IPv4
    addresses are quickly hashed and looked up). Rows older than the window are deleted when
    the next failure is recorded.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_kind_key_at", "kind", "key", "at"),)

    #: ``user`` (the normalised username) or ``addr`` (the client address).
    kind: Mapped[str] = mapped_column(String(4))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
