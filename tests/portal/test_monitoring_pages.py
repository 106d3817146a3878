"""The portal's monitoring parts over WSGI: the dashboard lists reviews due (overdue ones
marked) and consents expiring within 30 days; the close form records the two closing
questions; the figures page and its downloads are for office leads, tenant admins and
evaluators only; the Art. 15 button gives the client's PDF."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from werkzeug.test import Client

from services.agreements.models import Agreement
from services.agreements.models.vocabulary import Role
from tests.fixtures.cases import caller, new_client, seed_office_case
from tests.fixtures.factories import consent_body
from tests.fixtures.platform import Platform

from .conftest import csrf_of, login, make_user

TENANT = "freiburg"


def test_the_dashboard_lists_due_reviews_and_expiring_consents(
    sqlite_platform: Platform,
) -> None:
    user = make_user(sqlite_platform, TENANT)
    api = caller(sqlite_platform, TENANT).api  # same office (the first)
    case = seed_office_case(api)
    overdue = datetime.now(UTC).date() - timedelta(days=3)
    with sqlite_platform.session(TENANT) as session, session.begin():
        session.execute(update(Agreement).where(Agreement.id == uuid.UUID(case.agreement_id))
                        .values(next_review_due=overdue))  # fmt: skip

    def expiring_in(days: int) -> str:
        return (datetime.now(UTC) + timedelta(days=days)).isoformat()

    soon = new_client(api)
    api.ok("POST", f"clients/{soon['id']}/consents", consent_body(expires_at=expiring_in(10)), 201)
    later = new_client(api)
    api.ok("POST", f"clients/{later['id']}/consents", consent_body(expires_at=expiring_in(90)),
           201)  # fmt: skip
    http = Client(sqlite_platform.dispatcher)
    login(http, user)
    page = http.get(f"/t/{TENANT}/").get_data(as_text=True)
    reviews = page[page.index('id="reviews-due"') : page.index('id="waiting"')]
    assert case.family_name in reviews and "überfällig" in reviews
    expiring = page[page.index('id="consents-expiring"') :]
    assert soon["family_name"] in expiring
    assert later["family_name"] not in expiring


def test_closing_asks_the_two_questions(sqlite_platform: Platform) -> None:
    user = make_user(sqlite_platform, TENANT)
    case = seed_office_case(caller(sqlite_platform, TENANT).api)
    http = Client(sqlite_platform.dispatcher)
    login(http, user)
    path = f"/t/{TENANT}/agreements/{case.agreement_id}/close"
    form = http.get(path)
    text = form.get_data(as_text=True)
    assert "Hat Ihnen die Vereinbarung geholfen?" in text
    assert "Hat sie es Ihnen leichter gemacht, dranzubleiben?" in text
    refused = http.post(path, data={"csrf_token": csrf_of(form), "outcome": "goals_reached",
                                    "balance": "gut", "helped": "maybe"})  # fmt: skip
    assert refused.status_code == 422
    done = http.post(path, data={"csrf_token": csrf_of(form), "outcome": "goals_reached",
                                 "balance": "gut", "helped": "yes"})  # fmt: skip
    assert done.status_code == 302
    with sqlite_platform.session(TENANT) as session:
        closed = session.get(Agreement, uuid.UUID(case.agreement_id))
        assert closed is not None
        assert (closed.status, closed.helped, closed.easier_to_keep_going) == (
            "closed", "yes", None)  # fmt: skip


def test_who_sees_the_figures_page(sqlite_platform: Platform) -> None:
    for role, status in ((Role.COUNSELLOR, 403), (Role.OFFICE_LEAD, 200),
                         (Role.TENANT_ADMIN, 200), (Role.EVALUATOR, 200)):  # fmt: skip
        http = Client(sqlite_platform.dispatcher)
        login(http, make_user(sqlite_platform, TENANT, role))
        page = http.get(f"/t/{TENANT}/figures")
        assert page.status_code == status, role
        if status == 200:
            assert "<svg" in page.get_data(as_text=True)
            assert "<script" not in page.get_data(as_text=True)
            download = http.get(f"/t/{TENANT}/figures?format=xlsx")
            assert download.status_code == 200 and download.data[:2] == b"PK"
    http = Client(sqlite_platform.dispatcher)
    login(http, make_user(sqlite_platform, TENANT, Role.TENANT_ADMIN))
    assert http.get(f"/t/{TENANT}/figures?from=kein-datum").status_code == 422


def test_the_data_access_button(sqlite_platform: Platform) -> None:
    user = make_user(sqlite_platform, TENANT)
    case = seed_office_case(caller(sqlite_platform, TENANT).api)
    http = Client(sqlite_platform.dispatcher)
    login(http, user)
    page = http.get(f"/t/{TENANT}/clients/{case.client_id}").get_data(as_text=True)
    assert f"/t/{TENANT}/clients/{case.client_id}/export" in page
    pdf = http.get(f"/t/{TENANT}/clients/{case.client_id}/export")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    as_json = http.get(f"/t/{TENANT}/clients/{case.client_id}/export?format=json")
    assert as_json.json["client_id"] == case.client_id  # type: ignore[index]
