"""Offices mirror the tenant registry; the registry file is the source of truth."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants.registry import Tenant

from ..models import Office


def sync_offices(session: Session, tenant: Tenant) -> list[Office]:
    """Create or update an Office per registry entry; offices gone from the file are
    deactivated, never deleted (their cases stay)."""
    existing = {office.key: office for office in session.scalars(select(Office))}
    listed = set()
    for entry in tenant.offices:
        listed.add(entry.key)
        office = existing.get(entry.key)
        if office is None:
            office = Office(key=entry.key)
            session.add(office)
        office.name = entry.name
        office.programme = entry.programme
        office.carrier = entry.carrier
        office.address = entry.address
        office.active = True
    for key, office in existing.items():
        if key not in listed:
            office.active = False
    session.flush()
    return list(session.scalars(select(Office).order_by(Office.name)))


def list_offices(session: Session) -> list[Office]:
    return list(session.scalars(select(Office).where(Office.active).order_by(Office.name)))


def office_by_key(session: Session, key: str) -> Office | None:
    return session.scalar(select(Office).where(Office.key == key))
