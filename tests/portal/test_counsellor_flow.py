"""The counsellor's daily work through the portal's forms, over WSGI: every page calls the
same operations as the API, so these tests check the form mapping and the page flow."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from services.agreements.models import Agreement, Referral
from services.agreements.models import Client as ClientRow
from services.agreements.models.vocabulary import Role
from tests.fixtures.platform import Platform, unique

from .conftest import csrf_of, login, make_user, path_of

TODAY = datetime.now(UTC).date()


def _post(http: Client, path: str, data: dict[str, object], page: str | None = None) -> object:
    token = csrf_of(http.get(page or path))
    return http.post(path, data={"csrf_token": token, **data})


def _client_id(response: object) -> str:
    match = re.search(r"/clients/([0-9a-f-]{36})", path_of(response))  # type: ignore[arg-type]
    assert match
    return match.group(1)


def _iso(d: date) -> str:
    return d.isoformat()


def register_client(http: Client, family: str) -> str:
    created = _post(
        http,
        "/t/freiburg/clients/new",
        {
            "given_name": "Amina",
            "family_name": family,
            "birth_date": "1990-04-01",
            "arrival_date": _iso(TODAY - timedelta(days=60)),
            "country_of_origin": "sy",
            "languages": "ar, en",
            "residence_status": "recognised_refugee",
        },
    )
    assert created.status_code == 302, created.get_data(as_text=True)  # type: ignore[attr-defined]
    return _client_id(created)


def test_whole_case_from_registration_to_closing(sqlite_platform: Platform, http: Client) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    family = f"Haddad-{unique()}"
    client_id = register_client(http, family)
    base = f"/t/freiburg/clients/{client_id}"

    consent = _post(
        http,
        base + "/consents/new",
        {
            "recipient_kind": "jobcenter",
            "purposes": ["work", "language"],
            "data_categories": ["identity", "languages"],
            "signed_on": _iso(TODAY),
        },
    )
    assert consent.status_code == 302, consent.get_data(as_text=True)  # type: ignore[attr-defined]
    assessment = _post(
        http,
        base + "/assessments/new",
        {"language-level": "A1", "language-needs": "Integrationskurs, Kinderbetreuung",
         "work-situation": "Berufserfahrung im Handel"},
    )  # fmt: skip
    assert assessment.status_code == 302

    due = _iso(TODAY + timedelta(days=200))
    step_due = _iso(TODAY + timedelta(days=30))
    drafted = _post(
        http,
        base + "/agreements/new",
        {
            "goal_slots": "2", "step_slots": "3",
            "goals-0-field": "language", "goals-0-target": "Deutsch B1", "goals-0-due_date": due,
            "goals-0-steps-0-description": "Anmeldung Integrationskurs",
            "goals-0-steps-0-owner_side": "client", "goals-0-steps-0-due_date": step_due,
            "goals-0-steps-1-description": "Kursträger mit Kinderbetreuung suchen",
            "goals-0-steps-1-owner_side": "institution", "goals-0-steps-1-due_date": step_due,
            "goals-1-field": "work", "goals-1-target": "Arbeitsaufnahme", "goals-1-due_date": due,
            "goals-1-steps-0-description": "Termin beim Jobcenter",
            "goals-1-steps-0-owner_side": "institution", "goals-1-steps-0-due_date": step_due,
        },
        page=base + "/agreements/new",
    )  # fmt: skip
    assert drafted.status_code == 302, drafted.get_data(as_text=True)  # type: ignore[attr-defined]
    agreement_path = path_of(drafted).split("?")[0]  # type: ignore[arg-type]
    agreement_id = agreement_path.rsplit("/", 1)[1]
    for party in ("client", "counsellor"):
        signed = _post(
            http, agreement_path + "/sign", {"party": party, "signed_on": _iso(TODAY)},
            page=agreement_path,
        )  # fmt: skip
        assert signed.status_code == 302, signed.get_data(as_text=True)  # type: ignore[attr-defined]
    page = http.get(agreement_path).get_data(as_text=True)
    assert "Aktiv" in page and "Entwurf bearbeiten" not in page  # signed: read-only

    with sqlite_platform.session("freiburg") as session:
        agreement = session.get(Agreement, uuid.UUID(agreement_id))
        assert agreement is not None and agreement.status == "active"
        step = agreement.goals[1].steps[0]
        person = session.scalar(select(ClientRow).where(ClientRow.family_name == family))
        assert person is not None
        consent_id = person.consents[0].id
    referral_path = f"{agreement_path}/steps/{step.id}/referral"
    referred = _post(
        http,
        referral_path,
        {"recipient_kind": "jobcenter", "purpose": "work", "consent_id": str(consent_id)},
    )
    assert referred.status_code == 302, referred.get_data(as_text=True)  # type: ignore[attr-defined]

    review_page = http.get(agreement_path + "/review")
    results = {
        f"result-{s}": "partly"
        for s in re.findall(r'name="result-([0-9a-f-]{36})"', review_page.get_data(as_text=True))
    }
    assert len(results) == 3
    reviewed = _post(http, agreement_path + "/review", {**results, "obstacles": "Wartezeit Kita"})
    assert reviewed.status_code == 302, reviewed.get_data(as_text=True)  # type: ignore[attr-defined]

    timeline = http.get(base).get_data(as_text=True)
    for expected in ("Einwilligung für Jobcenter", "Erfassung", "Vereinbarung, Fassung 1",
                     "Überprüfung der Fassung 1", "Weiterleitung an Jobcenter", "Statusverlauf",
                     "Angefordert"):  # fmt: skip
        assert expected in timeline, expected

    pdf = http.get(agreement_path + "/agreement.pdf?lang=ar")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")

    closed = _post(
        http, agreement_path + "/close", {"outcome": "goals_reached", "balance": "Gut gelaufen."}
    )
    assert closed.status_code == 302, closed.get_data(as_text=True)  # type: ignore[attr-defined]
    with sqlite_platform.session("freiburg") as session:
        assert session.scalar(select(Referral.status).where(Referral.step_id == step.id))
        assert session.get(Agreement, agreement.id).status == "closed"  # type: ignore[union-attr]


def test_invalid_form_shows_errors_and_keeps_input(sqlite_platform: Platform, http: Client) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    response = _post(
        http, "/t/freiburg/clients/new", {"given_name": "Olena", "birth_date": "not a date"}
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert 'value="Olena"' in text and 'aria-invalid="true"' in text


def test_search_filter_and_pagination(sqlite_platform: Platform, http: Client) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    family = f"Kovalenko-{unique()}"
    register_client(http, family)
    found = http.get(f"/t/freiburg/clients?q={family}").get_data(as_text=True)
    assert family in found and "1 Personen" in found
    none = http.get(f"/t/freiburg/clients?q={family}&agreement_status=active").get_data(
        as_text=True
    )
    assert "0 Personen" in none and f">{family}, " not in none


def test_other_office_and_other_tenant_see_nothing(sqlite_platform: Platform) -> None:
    owner = Client(sqlite_platform.dispatcher)
    login(owner, make_user(sqlite_platform, "freiburg"))
    client_id = register_client(owner, f"Rahimi-{unique()}")
    second_office = sqlite_platform.tenant("freiburg").offices[1].key
    colleague = Client(sqlite_platform.dispatcher)
    login(colleague, make_user(sqlite_platform, "freiburg", Role.COUNSELLOR, second_office))
    assert colleague.get(f"/t/freiburg/clients/{client_id}").status_code == 404
    assert "Rahimi" not in colleague.get("/t/freiburg/clients").get_data(as_text=True)
    essen = Client(sqlite_platform.dispatcher)
    login(essen, make_user(sqlite_platform, "essen"))
    assert essen.get(f"/t/essen/clients/{client_id}").status_code == 404
    # The Freiburg session does not open Essen's pages either.
    assert owner.get("/t/essen/clients").status_code == 302


def test_tenant_admin_manages_users(sqlite_platform: Platform, http: Client) -> None:
    login(http, make_user(sqlite_platform, "freiburg", Role.TENANT_ADMIN))
    name = f"new-{unique()}"
    created = _post(
        http,
        "/t/freiburg/admin/users",
        {"username": name, "display_name": "Neue Beraterin", "role": "counsellor",
         "office": "mbe-caritas", "password": "a long enough password"},
    )  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)  # type: ignore[attr-defined]
    assert name in http.get("/t/freiburg/admin/users").get_data(as_text=True)
    assert http.get("/t/freiburg/clients").status_code == 403  # no case access


def test_a_large_office_list_says_more_than_instead_of_counting_all(
    sqlite_platform: Platform, http: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list stops counting at a limit (10,000 in service; 3 here): it says "more than",
    still pages forward while pages are full, and a search below the limit counts exactly."""
    from services.agreements.portal import clients as portal_clients

    login(http, make_user(sqlite_platform, "freiburg"))
    family = f"Limit-{unique()}"
    for n in range(5):
        register_client(http, f"{family}-{n}")
    monkeypatch.setattr(portal_clients, "COUNT_LIMIT", 3)
    monkeypatch.setattr(portal_clients, "PAGE_SIZE", 2)
    first = http.get("/t/freiburg/clients").get_data(as_text=True)
    assert "Mehr als 3 Personen" in first
    assert 'rel="next"' in first
    found = http.get(f"/t/freiburg/clients?q={family}-1").get_data(as_text=True)
    assert "1 Personen" in found and "Mehr als" not in found
    searched = http.get(f"/t/freiburg/clients?q={family}").get_data(as_text=True)
    assert "Mehr als 3 Personen" in searched
    last = http.get(f"/t/freiburg/clients?q={family}&page=3").get_data(as_text=True)
    assert f"{family}-4" in last and 'rel="next"' not in last  # one row: the end
