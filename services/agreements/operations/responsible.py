"""Who is responsible for a case: the counsellor who registered it, until an office lead
hands it over to a colleague of the same office (audited)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Agreement, Client, User
from ..models.vocabulary import CASE_ROLES, AgreementStatus, Role
from ..principal import Principal
from . import audit
from .scope import client_in_scope

STAFF_PREFIX = "user:"


def staff_user_id(session: Session, principal: Principal) -> uuid.UUID | None:
    """The staff user acting (None for API clients and services)."""
    if not principal.actor.startswith(STAFF_PREFIX):
        return None
    username = principal.actor.removeprefix(STAFF_PREFIX)
    return session.scalar(select(User.id).where(User.username == username))


def office_staff(session: Session, office_id: uuid.UUID) -> list[User]:
    """The active counsellors and office leads of an office: who can take a case over."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.office_id == office_id,
                User.active.is_(True),
                User.role.in_([str(r) for r in CASE_ROLES]),
            )
            .order_by(User.display_name)
        )
    )


def hand_over(
    session: Session, principal: Principal, client_id: uuid.UUID, to_user_id: uuid.UUID
) -> Client:
    """Make ``to_user_id`` responsible for the case; only an office lead, only to an active
    colleague of the case's office."""
    client = client_in_scope(session, principal, client_id)  # another office's: 404
    principal.require_role(Role.OFFICE_LEAD)
    if to_user_id not in {u.id for u in office_staff(session, client.office_id)}:
        raise InvalidInput(
            "responsible_not_allowed",
            "Bitte wählen Sie eine aktive Beraterin oder einen aktiven Berater dieser "
            "Beratungsstelle.",
            "Please choose an active counsellor of this office.",
            fields={"responsible_id": ["not an active counsellor of the office"]},
        )
    previous = client.responsible_id
    client.responsible_id = to_user_id
    session.flush()
    audit.record(
        session, principal, "hand_over", "client", client.id, client.id,
        from_user=str(previous) if previous else None, to_user=str(to_user_id),
    )  # fmt: skip
    return client


def open_cases_of(session: Session, user_id: uuid.UUID) -> list[Client]:
    """The cases a user is responsible for that are open: no agreement closed yet (or none
    at all), personal data still there."""
    closed = (
        select(Agreement.id)
        .where(Agreement.client_id == Client.id, Agreement.status == AgreementStatus.CLOSED)
        .exists()
    )
    return list(
        session.scalars(
            select(Client)
            .where(
                Client.responsible_id == user_id,
                Client.personal_data_removed_at.is_(None),
                ~closed,
            )
            .order_by(Client.family_name, Client.given_name)
        )
    )
