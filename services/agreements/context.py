"""Per-app tenant context and the per-request session.

``create_app`` stores a TenantContext in ``app.extensions``; the request's session is created
on first use and closed (rolled back if not committed) when the app context ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tenants.registry import Tenant
from tenants.settings import Settings

from .errors import DomainError
from .operations.review_schedule import REVIEW_INTERVAL_KEY
from .principal import Principal

EXTENSION = "integra"


class DemoMark(StrEnum):
    """Why the portal shows a "Demo" banner (``integra up`` decides, see deploy.runner)."""

    SIMULATED = "simulated"  # partner simulators answer in place of the agencies
    DATA = "data"  # demo cases seeded; the agencies are real


@dataclass
class TenantContext:
    settings: Settings
    tenant: Tenant
    engine: Engine
    sessions: sessionmaker[Session]
    demo: DemoMark | None = None


def tenant_context_of(app: Flask) -> TenantContext:
    ctx: TenantContext = app.extensions[EXTENSION]
    return ctx


def tenant_context() -> TenantContext:
    return tenant_context_of(current_app)


def db_session() -> Session:
    if "db_session" not in g:
        new_session = tenant_context().sessions()
        new_session.info["tenant"] = tenant_context().tenant.slug
        new_session.info[REVIEW_INTERVAL_KEY] = tenant_context().tenant.reviews.interval_months
        g.db_session = new_session
    session: Session = g.db_session
    return session


def commit() -> None:
    """Commit at the edge; a failed commit leaves nothing half-done."""
    session = db_session()
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise


def close_session(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()


def current_principal() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise DomainError("unauthenticated", "Anmeldung erforderlich.", "Authentication required.")
    return principal
