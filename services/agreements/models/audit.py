from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, SerialPrimaryKey, UTCDateTime


class AuditEvent(SerialPrimaryKey, Base):
    """Append-only, hash-chained record of every read and write of personal data.

    ``hash`` covers the event's content and the previous event's hash, so a removed or
    altered row breaks the chain (see ``operations.audit.verify_chain``).
    """

    __tablename__ = "audit_events"

    at: Mapped[datetime] = mapped_column(UTCDateTime)
    tenant: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    office_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
