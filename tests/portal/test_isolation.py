"""Every portal page that names a case object answers another office's ids exactly like
unknown ids (404) and changes nothing; a table checks that no such route is forgotten."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from services.agreements.models import AuditEvent, Consent, Referral
from services.agreements.models import Client as ClientRow
from services.agreements.models.vocabulary import Role, SigningParty
from services.agreements.operations import agreements, clients, consents, referrals
from services.agreements.principal import Principal
from tests.fixtures.platform import Platform

from .conftest import csrf_of, login, make_user


@dataclass
class Case:
    client_id: uuid.UUID
    consent_id: uuid.UUID
    agreement_id: uuid.UUID
    step_id: uuid.UUID
    referral_id: uuid.UUID


#: (method, rule) → path with {placeholders} of Case.
ROUTES = {
    ("GET", "/clients/<uuid:client_id>"): "/clients/{client_id}",
    ("GET", "/clients/<uuid:client_id>/export"): "/clients/{client_id}/export",
    ("GET", "/clients/<uuid:client_id>/consents/new"): "/clients/{client_id}/consents/new",
    ("POST", "/clients/<uuid:client_id>/consents/new"): "/clients/{client_id}/consents/new",
    ("GET", "/clients/<uuid:client_id>/assessments/new"): "/clients/{client_id}/assessments/new",
    ("POST", "/clients/<uuid:client_id>/assessments/new"): "/clients/{client_id}/assessments/new",
    ("GET", "/clients/<uuid:client_id>/agreements/new"): "/clients/{client_id}/agreements/new",
    ("POST", "/clients/<uuid:client_id>/agreements/new"): "/clients/{client_id}/agreements/new",
    ("POST", "/consents/<uuid:consent_id>/revoke"): "/consents/{consent_id}/revoke",
    ("GET", "/agreements/<uuid:agreement_id>"): "/agreements/{agreement_id}",
    ("GET", "/agreements/<uuid:agreement_id>/edit"): "/agreements/{agreement_id}/edit",
    ("POST", "/agreements/<uuid:agreement_id>/edit"): "/agreements/{agreement_id}/edit",
    ("POST", "/agreements/<uuid:agreement_id>/sign"): "/agreements/{agreement_id}/sign",
    ("POST", "/agreements/<uuid:agreement_id>/discard"): "/agreements/{agreement_id}/discard",
    ("GET", "/agreements/<uuid:agreement_id>/review"): "/agreements/{agreement_id}/review",
    ("POST", "/agreements/<uuid:agreement_id>/review"): "/agreements/{agreement_id}/review",
    ("POST", "/agreements/<uuid:agreement_id>/amend"): "/agreements/{agreement_id}/amend",
    ("GET", "/agreements/<uuid:agreement_id>/close"): "/agreements/{agreement_id}/close",
    ("POST", "/agreements/<uuid:agreement_id>/close"): "/agreements/{agreement_id}/close",
    ("GET", "/agreements/<uuid:agreement_id>/agreement.pdf"):
        "/agreements/{agreement_id}/agreement.pdf",
    ("GET", "/agreements/<uuid:agreement_id>/steps/<uuid:step_id>/referral"):
        "/agreements/{agreement_id}/steps/{step_id}/referral",
    ("POST", "/agreements/<uuid:agreement_id>/steps/<uuid:step_id>/referral"):
        "/agreements/{agreement_id}/steps/{step_id}/referral",
    ("POST", "/referrals/<uuid:referral_id>/withdraw"): "/referrals/{referral_id}/withdraw",
    ("GET", "/clients/<uuid:client_id>/edit"): "/clients/{client_id}/edit",
    ("POST", "/clients/<uuid:client_id>/edit"): "/clients/{client_id}/edit",
    ("POST", "/clients/<uuid:client_id>/responsible"): "/clients/{client_id}/responsible",
}  # fmt: skip
#: Portal routes with ids that are not case data (admin pages are checked by role).
NOT_CASE_ROUTES = {
    ("GET", "/admin/users/<uuid:user_id>/deactivate"),
    ("POST", "/admin/users/<uuid:user_id>/deactivate"),
    ("POST", "/admin/users/<uuid:user_id>/reactivate"),
    ("GET", "/admin/offers/<uuid:service_id>"),
    ("POST", "/admin/offers/<uuid:service_id>"),
}


def seed_case(platform: Platform, slug: str, office_key: str) -> Case:
    with platform.session(slug) as session, session.begin():
        session.info["tenant"] = slug
        office = next(o for o in platform.tenant(slug).offices if o.key == office_key)
        from services.agreements.operations.offices import office_by_key

        row = office_by_key(session, office.key)
        assert row is not None
        who = Principal("service:test", Role.COUNSELLOR, slug, row.id)
        today = datetime.now(UTC).date()
        client = clients.create_client(
            session, who,
            {"given_name": "Dawit", "family_name": "Tesfaye", "birth_date": date(1990, 5, 1),
             "country_of_origin": "ER", "languages": ["ti"], "arrival_date": today,
             "office_id": row.id},
        )  # fmt: skip
        consent = consents.give_consent(
            session, who, client.id,
            {"recipient_kind": "jobcenter", "purposes": ["work"], "data_categories": ["identity"],
             "signed_at": datetime.now(UTC) - timedelta(hours=1), "expires_at": None},
        )  # fmt: skip
        due = today + timedelta(days=60)
        agreement = agreements.draft_agreement(
            session, who, client.id,
            [{"field": "work", "target": "Arbeit", "due_date": due,
              "steps": [{"description": "Termin", "owner_side": "institution", "due_date": due}]}],
        )  # fmt: skip
        agreements.sign_agreement(session, who, agreement.id, SigningParty.CLIENT)
        agreements.sign_agreement(session, who, agreement.id, SigningParty.COUNSELLOR)
        step = agreement.steps[0]
        referral = referrals.create_referral(
            session, who,
            {"client_id": client.id, "recipient_kind": "jobcenter", "purpose": "work",
             "consent_id": consent.id, "step_id": step.id},
        )  # fmt: skip
        return Case(client.id, consent.id, agreement.id, step.id, referral.id)


def case_rows(platform: Platform, slug: str) -> dict[str, int]:
    with platform.session(slug) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (ClientRow, Consent, Referral)
        } | {
            "revoked": session.scalar(
                select(func.count()).select_from(Consent).where(Consent.revoked_at.is_not(None))
            )
            or 0
        }


@pytest.fixture(scope="module")
def other_office_case(sqlite_platform: Platform) -> Case:
    return seed_case(sqlite_platform, "freiburg", sqlite_platform.tenant("freiburg").offices[1].key)


@pytest.fixture(scope="module")
def first_office_http(sqlite_platform: Platform) -> Client:
    """One login for the whole table: a counsellor of the tenant's first office."""
    http = Client(sqlite_platform.dispatcher)
    login(http, make_user(sqlite_platform, "freiburg"))
    return http


def test_every_portal_route_with_ids_has_a_case(sqlite_platform: Platform) -> None:
    app = sqlite_platform.dispatcher.tenant_app("freiburg")
    assert app is not None
    with_ids = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("portal.") and "<uuid:" in rule.rule
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert with_ids - set(ROUTES) - NOT_CASE_ROUTES == set()
    assert set(ROUTES) - with_ids == set()


@pytest.mark.parametrize("key", sorted(ROUTES), ids=lambda k: f"{k[0]} {k[1]}")
def test_another_offices_case_is_not_found(
    sqlite_platform: Platform,
    other_office_case: Case,
    first_office_http: Client,
    key: tuple[str, str],
) -> None:
    http = first_office_http
    token = csrf_of(http.get("/t/freiburg/clients/new"))
    path = "/t/freiburg" + ROUTES[key].format(**other_office_case.__dict__)
    before = case_rows(sqlite_platform, "freiburg")
    with sqlite_platform.session("freiburg") as session:
        audit_before = session.scalar(select(func.max(AuditEvent.id)))
    method = key[0]
    if method == "GET":
        response = http.get(path)
    else:
        response = http.post(
            path,
            data={"csrf_token": token, "party": "client", "reason": "x", "outcome": "broke_off",
                  "balance": "x", "recipient_kind": "jobcenter", "purpose": "work",
                  "consent_id": str(other_office_case.consent_id)},
        )  # fmt: skip
    assert response.status_code == 404, f"{method} {path}: {response.status_code}"
    assert "Tesfaye" not in response.get_data(as_text=True)
    assert case_rows(sqlite_platform, "freiburg") == before
    with sqlite_platform.session("freiburg") as session:
        new_events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.id > (audit_before or 0))
        ).all()
    assert set(new_events) <= {"login", "read"}  # nothing of the other office was touched
