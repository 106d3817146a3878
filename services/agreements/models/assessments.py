from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, Timestamps, UUIDPrimaryKey


class Assessment(UUIDPrimaryKey, Timestamps, Base):
    """The starting situation by field; a new assessment is a new row (history kept)."""

    __tablename__ = "assessments"

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(100))
