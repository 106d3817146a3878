"""The audit log, on PostgreSQL and SQLite: every read and write of a client's data appends
an event naming who (actor, role, office), what (action, object), which case and which
tenant; the log is hash-chained, append-only in the database itself, and tampering shows.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.agreements.models import AuditEvent
from services.agreements.models.vocabulary import Role
from services.agreements.operations import audit
from services.agreements.operations.audit import verify_chain
from services.agreements.principal import Principal
from tests.fixtures.cases import Caller, caller, new_client, sign_both
from tests.fixtures.factories import agreement_body, assessment_body, client_body, consent_body
from tests.fixtures.platform import Api, Platform, unique

TENANT = "freiburg"


def head_id(platform: Platform) -> int:
    with platform.session(TENANT) as session:
        return session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0


def events_after(
    platform: Platform,
    after: int,
    *,
    client_ids: list[str] | None = None,
    actor: str | None = None,
) -> list[AuditEvent]:
    """Events appended since ``after``, of the given cases or actor only: whatever else may
    write to the shared test tenant meanwhile (a relay, a consumer) does not disturb."""
    query = select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
    if client_ids is not None:
        query = query.where(AuditEvent.client_id.in_([uuid.UUID(c) for c in client_ids]))
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    with platform.session(TENANT) as session:
        return list(session.scalars(query))


def office_id(platform: Platform, who: Caller) -> uuid.UUID:
    offices = who.api.ok("GET", "offices")
    return uuid.UUID(next(o["id"] for o in offices if o["key"] == who.office_key))


# -- what each call appends -------------------------------------------------------------------


@dataclass
class Ctx:
    """The objects a call works on; ``prepare`` makes them, ``call`` uses them."""

    api: Api
    client: dict[str, Any]
    objects: dict[str, Any]


def _with_consent(api: Api, client: dict[str, Any]) -> dict[str, Any]:
    return {"consent": api.ok("POST", f"clients/{client['id']}/consents", consent_body(), 201)}


def _with_active(api: Api, client: dict[str, Any]) -> dict[str, Any]:
    draft = api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(1, 2), 201)
    return {"agreement": sign_both(api, draft["id"])}


def _with_draft(api: Api, client: dict[str, Any]) -> dict[str, Any]:
    return {
        "agreement": api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(1, 1), 201)
    }


def _with_referral(api: Api, client: dict[str, Any]) -> dict[str, Any]:
    objects = _with_consent(api, client)
    body = {
        "client_id": client["id"],
        "recipient_kind": "jobcenter",
        "purpose": "work",
        "consent_id": objects["consent"]["id"],
    }
    objects["referral"] = api.ok("POST", "referrals", body, 201)
    return objects


def _first_step(ctx: Ctx) -> str:
    return str(ctx.objects["agreement"]["goals"][0]["steps"][0]["id"])


@dataclass(frozen=True)
class Audited:
    """One API call and the events it must append: (action, object_type, object id)."""

    prepare: Callable[[Api, dict[str, Any]], dict[str, Any]]
    call: Callable[[Ctx], Any]  # returns the response JSON (or None)
    expected: Callable[[Ctx, Any], list[tuple[str, str, str]]]


def _id(value: Any) -> str:
    return str(value["id"])


AUDITED: dict[str, Audited] = {
    "read client": Audited(
        lambda api, c: {},
        lambda x: x.api.ok("GET", f"clients/{x.client['id']}"),
        lambda x, r: [("read", "client", x.client["id"])],
    ),
    "update client": Audited(
        lambda api, c: {},
        lambda x: x.api.ok("PATCH", f"clients/{x.client['id']}", {"given_name": "Amal"}),
        lambda x, r: [("update", "client", x.client["id"])],
    ),
    "give consent": Audited(
        lambda api, c: {},
        lambda x: x.api.ok("POST", f"clients/{x.client['id']}/consents", consent_body(), 201),
        lambda x, r: [("create", "consent", _id(r))],
    ),
    "read consents": Audited(
        _with_consent,
        lambda x: x.api.ok("GET", f"clients/{x.client['id']}/consents"),
        lambda x, r: [("read", "consents", x.client["id"])],
    ),
    "revoke consent, revoking its open referral": Audited(
        _with_referral,
        lambda x: x.api.ok("POST", f"consents/{x.objects['consent']['id']}/revoke", {}),
        lambda x, r: [
            ("revoke", "consent", x.objects["consent"]["id"]),
            ("referral.revoked", "referral", x.objects["referral"]["id"]),
        ],
    ),
    "record assessment": Audited(
        lambda api, c: {},
        lambda x: x.api.ok("POST", f"clients/{x.client['id']}/assessments", assessment_body(), 201),
        lambda x, r: [("create", "assessment", _id(r))],
    ),
    "read assessments": Audited(
        lambda api, c: {},
        lambda x: x.api.ok("GET", f"clients/{x.client['id']}/assessments"),
        lambda x, r: [("read", "assessments", x.client["id"])],
    ),
    "draft agreement": Audited(
        lambda api, c: {},
        lambda x: x.api.ok(
            "POST", f"clients/{x.client['id']}/agreements", agreement_body(1, 1), 201
        ),
        lambda x, r: [("create", "agreement", _id(r))],
    ),
    "read agreement": Audited(
        _with_draft,
        lambda x: x.api.ok("GET", f"agreements/{x.objects['agreement']['id']}"),
        lambda x, r: [("read", "agreement", _id(r))],
    ),
    "read agreement versions": Audited(
        _with_draft,
        lambda x: x.api.ok("GET", f"clients/{x.client['id']}/agreements"),
        lambda x, r: [("read", "agreements", x.client["id"])],
    ),
    "replace draft": Audited(
        _with_draft,
        lambda x: x.api.ok(
            "PUT", f"agreements/{x.objects['agreement']['id']}", agreement_body(2, 1)
        ),
        lambda x, r: [("update", "agreement", _id(r))],
    ),
    "sign": Audited(
        _with_draft,
        lambda x: x.api.ok(
            "POST", f"agreements/{x.objects['agreement']['id']}/sign", {"party": "client"}
        ),
        lambda x, r: [("sign", "agreement", _id(r))],
    ),
    "review": Audited(
        _with_active,
        lambda x: x.api.ok(
            "POST",
            f"agreements/{x.objects['agreement']['id']}/reviews",
            {"steps": [{"step_id": _first_step(x), "result": "partly"}]},
            201,
        ),
        lambda x, r: [("review", "agreement", x.objects["agreement"]["id"])],
    ),
    "amend": Audited(
        _with_active,
        lambda x: x.api.ok(
            "POST", f"agreements/{x.objects['agreement']['id']}/amendments", {"reason": "r"}, 201
        ),
        lambda x, r: [("amend", "agreement", _id(r))],
    ),
    "close": Audited(
        _with_active,
        lambda x: x.api.ok(
            "POST",
            f"agreements/{x.objects['agreement']['id']}/close",
            {"outcome": "moved_away", "balance": "verzogen"},
        ),
        lambda x, r: [("close", "agreement", _id(r))],
    ),
    "discard draft": Audited(
        _with_draft,
        lambda x: x.api.request("DELETE", f"agreements/{x.objects['agreement']['id']}"),
        lambda x, r: [("discard", "agreement", x.objects["agreement"]["id"])],
    ),
    "create referral": Audited(
        _with_consent,
        lambda x: x.api.ok(
            "POST",
            "referrals",
            {
                "client_id": x.client["id"],
                "recipient_kind": "jobcenter",
                "purpose": "language",
                "consent_id": x.objects["consent"]["id"],
            },
            201,
        ),
        lambda x, r: [("create", "referral", _id(r))],
    ),
    "read referral": Audited(
        _with_referral,
        lambda x: x.api.ok("GET", f"referrals/{x.objects['referral']['id']}"),
        lambda x, r: [("read", "referral", _id(r))],
    ),
    "list a client's referrals": Audited(
        _with_referral,
        lambda x: x.api.ok("GET", f"referrals?client_id={x.client['id']}"),
        lambda x, r: [("read", "referral", x.objects["referral"]["id"])],
    ),
    "withdraw referral": Audited(
        _with_referral,
        lambda x: x.api.ok("POST", f"referrals/{x.objects['referral']['id']}/withdraw", {}),
        lambda x, r: [("referral.withdrawn", "referral", _id(r))],
    ),
}


@pytest.mark.parametrize("name", list(AUDITED))
def test_each_read_and_write_appends_its_events(platform: Platform, name: str) -> None:
    spec = AUDITED[name]
    who = caller(platform, TENANT)
    client = new_client(who.api)
    ctx = Ctx(who.api, client, spec.prepare(who.api, client))
    before = head_id(platform)
    result = spec.call(ctx)
    events = events_after(platform, before, client_ids=[client["id"]])
    assert [(e.action, e.object_type, e.object_id) for e in events] == spec.expected(ctx, result)
    office = office_id(platform, who)
    for event in events:
        assert event.tenant == TENANT
        assert event.actor == f"client:{who.client_id}"
        assert event.actor_role == "counsellor"
        assert event.office_id == office
        assert event.client_id == uuid.UUID(client["id"])
        assert event.at is not None and event.at.tzinfo is not None
        assert len(event.hash) == 64 and len(event.prev_hash) == 64


def test_registering_a_client_is_audited(platform: Platform) -> None:
    who = caller(platform, TENANT, Role.OFFICE_LEAD)
    before = head_id(platform)
    client = new_client(who.api)
    [event] = events_after(platform, before, client_ids=[client["id"]])
    assert (event.action, event.object_type, event.object_id) == ("create", "client", client["id"])
    assert event.client_id == uuid.UUID(client["id"])
    assert (event.actor, event.actor_role) == (f"client:{who.client_id}", "office_lead")
    assert event.office_id == office_id(platform, who)


def test_office_and_partner_lists_are_not_personal_data(platform: Platform) -> None:
    who = caller(platform, TENANT)
    before = head_id(platform)
    who.api.ok("GET", "offices")
    who.api.ok("GET", "partners")
    assert events_after(platform, before, actor=f"client:{who.client_id}") == []


def test_listing_clients_audits_one_read_per_listed_case(platform: Platform) -> None:
    who = caller(platform, TENANT)
    api = who.api
    marker = f"Liste{unique()}"
    clients = [new_client(api, family_name=f"{marker}{i}") for i in range(3)]
    before = head_id(platform)
    page = api.ok("GET", f"clients?q={marker}&page_size=2")
    events = events_after(platform, before, actor=f"client:{who.client_id}")
    shown = [c["id"] for c in page["items"]]
    assert page["total"] == 3 and len(shown) == 2
    assert [(e.action, e.object_type, e.object_id) for e in events] == [
        ("read", "client", client_id) for client_id in shown
    ]
    assert [str(e.client_id) for e in events] == shown
    assert set(shown) < {c["id"] for c in clients}

    before = head_id(platform)
    assert api.ok("GET", "clients?q=nobody-has-this-name")["total"] == 0
    assert events_after(platform, before, actor=f"client:{who.client_id}") == []


# -- the chain ----------------------------------------------------------------------------------


def test_the_chain_verifies(platform: Platform) -> None:
    api = caller(platform, TENANT).api
    client = new_client(api)
    api.ok("GET", f"clients/{client['id']}")
    with platform.session(TENANT) as session:
        assert verify_chain(session) == (True, None)
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert events, "the chain is not empty"
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_concurrent_requests_keep_one_chain(platform: Platform) -> None:
    """Appends from parallel requests are serialised: no two events share a predecessor."""
    token = caller(platform, TENANT).api.token
    errors: list[str] = []

    def work() -> None:
        api = Api(platform.http(), TENANT, token)
        for _ in range(4):
            response = api.post("clients", client_body(family_name=f"P{unique()}"))
            if response.status_code != 201:
                errors.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with platform.session(TENANT) as session:
        assert verify_chain(session) == (True, None)


def test_a_long_lived_session_does_not_fork_the_chain(platform: Platform) -> None:
    """A session that commits and goes on (a message consumer) must re-read the chain head:
    another writer may have appended in between."""
    principal = Principal("service:test", Role.COUNSELLOR, TENANT, None)
    with platform.session(TENANT) as first, platform.session(TENANT) as second:
        audit.record(first, principal, "read", "test", "1", None)
        first.commit()
        audit.record(second, principal, "read", "test", "2", None)
        second.commit()
        audit.record(first, principal, "read", "test", "3", None)
        first.commit()
    with platform.session(TENANT) as session:
        assert verify_chain(session) == (True, None)


# -- append-only and tamper-evident ------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'client:someone-else' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ],
    ids=["update", "delete"],
)
def test_the_table_refuses_update_and_delete(platform: Platform, statement: str) -> None:
    caller(platform, TENANT).api.ok("GET", "clients")  # at least one event
    target = head_id(platform)
    with platform.engine(TENANT).connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement), {"id": target})
        connection.rollback()
    with platform.session(TENANT) as session:
        assert session.get(AuditEvent, target) is not None
        assert verify_chain(session) == (True, None)


def _forge_after_head(connection: Connection, *, linked: bool) -> int:
    """A copy of the head event with another actor, appended by raw SQL with a made-up hash;
    ``linked``: its prev_hash points to the head (only its content is wrong)."""
    head = connection.execute(
        text("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
    ).one()
    connection.execute(
        text(
            "INSERT INTO audit_events (at, tenant, actor, actor_role, office_id, action,"
            " object_type, object_id, client_id, detail, prev_hash, hash)"
            " SELECT at, tenant, 'client:forger', actor_role, office_id, action, object_type,"
            " object_id, client_id, detail, :prev, :hash FROM audit_events WHERE id = :id"
        ),
        {
            "id": head.id,
            "prev": head.hash if linked else "f" * 64,
            "hash": uuid.uuid4().hex * 2,
        },
    )
    return int(connection.execute(text("SELECT max(id) FROM audit_events")).scalar_one())


@pytest.mark.parametrize("linked", [True, False], ids=["wrong-hash", "wrong-prev-hash"])
def test_a_forged_row_is_detected(platform: Platform, linked: bool) -> None:
    caller(platform, TENANT).api.ok("GET", "clients")
    with platform.engine(TENANT).connect() as connection:
        forged = _forge_after_head(connection, linked=linked)
        with Session(bind=connection) as session:
            assert verify_chain(session) == (False, forged)
        connection.rollback()
    with platform.session(TENANT) as session:
        assert verify_chain(session) == (True, None)  # the forgery was rolled back


def _disable_append_only(connection: Connection) -> None:
    """What the owner of the database could do; the chain must still show it."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        )
    else:
        connection.execute(text("DROP TRIGGER audit_events_no_update"))
        connection.execute(text("DROP TRIGGER audit_events_no_delete"))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'client:someone-else' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ],
    ids=["altered", "removed"],
)
def test_altering_or_removing_a_row_breaks_the_chain(platform: Platform, statement: str) -> None:
    api = caller(platform, TENANT).api
    client = new_client(api)
    api.ok("GET", f"clients/{client['id']}")
    api.ok("GET", f"clients/{client['id']}")
    with platform.session(TENANT) as session:
        successor, victim = session.scalars(
            select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(2)
        )
    with platform.engine(TENANT).connect() as connection:
        _disable_append_only(connection)
        assert connection.execute(text(statement), {"id": victim}).rowcount == 1
        with Session(bind=connection) as session:
            broken_at = successor if statement.startswith("DELETE") else victim
            assert verify_chain(session) == (False, broken_at)
        connection.rollback()
    with platform.engine(TENANT).connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": victim})
        connection.rollback()
