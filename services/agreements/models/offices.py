from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, Timestamps, UUIDPrimaryKey


class Office(UUIDPrimaryKey, Timestamps, Base):
    """A counselling office (MBE or JMD) of the tenant; cases belong to one office."""

    __tablename__ = "offices"

    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    programme: Mapped[str] = mapped_column(String(3))
    carrier: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
