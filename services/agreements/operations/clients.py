"""Clients (the newly arrived persons) and their cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, lazyload

from ..errors import InvalidInput
from ..models import Agreement, Client, Office
from ..models.name_search import (
    FUZZY_MIN_LENGTH,
    pg_threshold,
    query_words,
    search_key,
    similarity_rank,
    word_similar,
)
from ..models.vocabulary import AgreementStatus, Role
from ..principal import Principal
from . import audit, responsible
from .scope import client_in_scope, visible_clients


@dataclass
class ClientPage:
    items: list[Client]
    page: int
    page_size: int
    total: int
    #: False when counting stopped at ``count_limit``: there are more than ``total``.
    total_exact: bool = True


def create_client(session: Session, principal: Principal, data: dict[str, Any]) -> Client:
    """Register a client in the principal's own office (``office_id`` must be that office)."""
    own_office = principal.require_case_access()
    office_id = data.get("office_id", own_office)
    if office_id != own_office:
        raise InvalidInput(
            "office_not_allowed",
            "Fälle können nur in der eigenen Beratungsstelle angelegt werden.",
            "Cases can only be created in your own office.",
            fields={"office_id": ["not your office"]},
        )
    if session.get(Office, office_id) is None:
        raise InvalidInput(
            "office_unknown",
            "Unbekannte Beratungsstelle.",
            "Unknown office.",
            fields={"office_id": ["unknown office"]},
        )
    client = Client(
        **{**data, "office_id": office_id},
        created_by=principal.actor,
        responsible_id=responsible.staff_user_id(session, principal),
    )
    session.add(client)
    session.flush()
    audit.record(session, principal, "create", "client", client.id, client.id)
    return client


def get_client(session: Session, principal: Principal, client_id: uuid.UUID) -> Client:
    client = client_in_scope(session, principal, client_id)
    audit.record(session, principal, "read", "client", client.id, client.id)
    return client


def update_client(
    session: Session, principal: Principal, client_id: uuid.UUID, changes: dict[str, Any]
) -> Client:
    client = client_in_scope(session, principal, client_id)
    if "office_id" in changes:
        raise InvalidInput(
            "office_not_changeable",
            "Die Beratungsstelle wird nur durch eine Übergabe geändert.",
            "The office changes only through a transfer.",
            fields={"office_id": ["use a transfer"]},
        )
    for key, value in changes.items():
        setattr(client, key, value)
    _check_record(client, set(changes))
    session.flush()
    audit.record(
        session, principal, "update", "client", client.id, client.id, fields=sorted(changes)
    )
    return client


def _check_record(client: Client, changed: set[str]) -> None:
    """Rules over the whole record, after a partial update merged into it; the error names
    the field the caller changed."""
    problems: dict[str, list[str]] = {}
    if client.arrival_date < client.birth_date:
        if "arrival_date" in changed:
            problems["arrival_date"] = ["must not be before the birth date"]
        else:
            problems["birth_date"] = ["must not be after the arrival date"]
    if client.course_obligation and not client.course_obligation_imposed_by:
        problems["course_obligation_imposed_by"] = ["name who imposed the § 44a obligation"]
    if problems:
        raise InvalidInput(
            "invalid_input",
            "Die Eingaben sind ungültig.",
            "The input is invalid.",
            fields=problems,
        )


def list_clients(
    session: Session,
    principal: Principal,
    *,
    page: int = 1,
    page_size: int = 25,
    q: str | None = None,
    agreement_status: str | None = None,
    count_limit: int | None = None,
    responsible_id: uuid.UUID | None = None,
) -> ClientPage:
    """A page of the office's clients, searchable by name (``name_matches``), filterable by
    agreement status and by the responsible counsellor.

    ``count_limit`` stops counting there (the portal shows "more than 10,000" instead of
    counting a large office's every client on every page); the API counts exactly.
    """
    query = visible_clients(principal)
    first: list[ColumnElement[Any]] = []  # ordered before the name
    if q:
        as_typed = query.where(*name_matches(session, q, fuzzy=False))
        if session.scalar(select(as_typed.exists())):
            query = as_typed
        else:  # nothing as typed: perhaps a typo; the closest names first
            query = query.where(*name_matches(session, q, fuzzy=True))
            dialect = session.get_bind().dialect.name
            first = [similarity_rank(dialect, query_words(q), Client.search_name).desc()]
    if responsible_id is not None:
        query = query.where(Client.responsible_id == responsible_id)
    if agreement_status == "none":
        query = query.where(~select(Agreement.id).where(Agreement.client_id == Client.id).exists())
    elif agreement_status:
        query = query.where(
            select(Agreement.id)
            .where(Agreement.client_id == Client.id, Agreement.status == agreement_status)
            .exists()
        )
    counted = query if count_limit is None else query.limit(count_limit + 1)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    exact = count_limit is None or total <= count_limit
    items = list(
        session.scalars(
            query.options(lazyload(Client.consents))  # a list shows no consents
            .order_by(*first, Client.family_name, Client.given_name, Client.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    audit.record_reads(session, principal, "client", (c.id for c in items))
    return ClientPage(
        items=items,
        page=page,
        page_size=page_size,
        total=total if exact else count_limit or 0,
        total_exact=exact,
    )


def name_matches(session: Session, q: str, *, fuzzy: bool) -> list[ColumnElement[bool]]:
    """Every word of ``q`` in the client's name, in any order, without accents or case, as a
    substring or (``fuzzy``: asked when nothing matched exactly) as a similar word (a typo;
    ``models.name_search``)."""
    dialect = session.get_bind().dialect.name
    if fuzzy and dialect == "postgresql":
        session.execute(select(pg_threshold()))
    conditions = []
    for word in query_words(q):
        substring = Client.search_name.contains(word, autoescape=True)
        if fuzzy and len(word) >= FUZZY_MIN_LENGTH:
            conditions.append(or_(substring, word_similar(dialect, word, Client.search_name)))
        else:
            conditions.append(substring)
    return conditions


def possible_duplicates(
    session: Session, principal: Principal, data: dict[str, Any]
) -> list[Client]:
    """Clients of the office with the same name (without accents or case) and birth date."""
    key = search_key(data.get("given_name"), data.get("family_name"))
    found = list(
        session.scalars(
            visible_clients(principal)
            .where(Client.search_name == key, Client.birth_date == data.get("birth_date"))
            .limit(5)
        )
    )
    audit.record_reads(session, principal, "client", (c.id for c in found))
    return found


def newest_agreement(versions: list[Agreement]) -> Agreement | None:
    """The newest version of a client's agreement (draft, signed, active or closed) among
    the versions already loaded, in any order."""
    candidates = [a for a in versions if a.status != AgreementStatus.SUPERSEDED]
    return max(candidates, key=lambda a: a.version, default=None)


def current_statuses(session: Session, client_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The status of ``newest_agreement`` for a page of clients, in one query of two
    columns (a list shows no more of the agreement)."""
    found: dict[uuid.UUID, str | None] = dict.fromkeys(client_ids)
    if not client_ids:
        return found
    rows = session.execute(
        select(Agreement.client_id, Agreement.status)
        .where(
            Agreement.client_id.in_(client_ids),
            Agreement.status != AgreementStatus.SUPERSEDED,
        )
        .order_by(Agreement.client_id, Agreement.version)
    )
    for client_id, status in rows:  # ascending versions: the newest one wins
        found[client_id] = status
    return found


def record_course_obligation(
    session: Session,
    *,
    tenant: str,
    given_name: str,
    family_name: str,
    birth_date: date,
    imposed_by: str,
    message_id: uuid.UUID,
) -> Client | None:
    """Mark the § 44a course obligation on the one client it names; None if no single
    client of the tenant matches (the notice is then refused, never guessed)."""
    matches = list(
        session.scalars(
            select(Client).where(
                func.lower(Client.given_name) == given_name.lower(),
                func.lower(Client.family_name) == family_name.lower(),
                Client.birth_date == birth_date,
            )
        )
    )
    if len(matches) != 1:
        return None
    client = matches[0]
    client.course_obligation = True
    client.course_obligation_imposed_by = imposed_by
    session.flush()
    agency = Principal(f"agency:{imposed_by}", Role.SERVICE, tenant, client.office_id)
    audit.record(
        session,
        agency,
        "course_obligation.imposed",
        "client",
        client.id,
        client.id,
        message_id=str(message_id),
    )
    return client
