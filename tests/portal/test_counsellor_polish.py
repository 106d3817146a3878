"""The portal speaks to people (issue 19, items 1, 2, 3, 6 and 8), over WSGI: every form
refused in German naming fields by their labels; the client edit page, country and language
lists and the duplicate warning; cases by responsibility, hand-over and a deactivation that
asks and can be undone; name search as people type; error pages; success messages."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from services.agreements.models import AuditEvent, User
from services.agreements.models import Client as ClientRow
from services.agreements.models.vocabulary import Role
from tests.fixtures.cases import seed_office_case
from tests.fixtures.platform import Platform, unique

from .conftest import csrf_of, login, make_user, path_of

TODAY = datetime.now(UTC).date()
#: What marshmallow, the schemas and the operations say in English: none may reach a page.
ENGLISH_LIBRARY = re.compile(
    r"Missing data|Not a valid|Must be one of|Length must|Field may not|Unknown field|"
    r"Shorter than|Longer than|must not be|must be|ISO \d|required|duplicates|Invalid input"
)
#: A raw field name (not a test user's name, role-unique: "tenant_admin-1a2b3c4d").
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b(?!-)")


class _VisibleText(HTMLParser):
    """The text a person reads: no attributes, scripts or styles; the support code shown in
    <code> (a machine code on purpose) left out."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def post(http: Client, path: str, data: dict[str, object], page: str | None = None) -> object:
    token = csrf_of(http.get(page or path))
    return http.post(path, data={"csrf_token": token, **data})


def register(http: Client, given: str, family: str, **more: str) -> str:
    created = post(
        http, "/t/freiburg/clients/new",
        {"given_name": given, "family_name": family, "birth_date": "1988-03-02",
         "arrival_date": (TODAY - timedelta(days=30)).isoformat(), "country_of_origin": "SY",
         "languages": ["ar", "en"], **more},
    )  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)  # type: ignore[attr-defined]
    match = re.search(r"/clients/([0-9a-f-]{36})", path_of(created))  # type: ignore[arg-type]
    assert match
    return match.group(1)


def assert_spoken_german(response: object, where: str) -> str:
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    text = visible_text(html)
    assert not ENGLISH_LIBRARY.search(text), f"{where}: {ENGLISH_LIBRARY.search(text)!r} in {text}"
    assert not SNAKE_CASE.findall(text), f"{where}: raw names {SNAKE_CASE.findall(text)}"
    assert "Bitte" in text, f"{where}: no instruction in {text}"
    return text


def test_every_portal_form_refuses_in_german_with_labels(
    sqlite_platform: Platform, http: Client
) -> None:
    api = sqlite_platform.api("freiburg")
    case = seed_office_case(api)
    login(http, make_user(sqlite_platform, "freiburg"))
    client, agreement = (
        f"/t/freiburg/clients/{case.client_id}",
        f"/t/freiburg/agreements/{case.agreement_id}",
    )
    draft_client = register(http, "Farid", f"Entwurf-{unique()}")
    forms = {
        "new client, empty": ("/t/freiburg/clients/new", {}, None),
        "new client, wrong values": (
            "/t/freiburg/clients/new",
            {"given_name": "A" * 101, "family_name": "B", "birth_date": "2.3.88",
             "arrival_date": "1900-01-01", "country_of_origin": "XX", "languages": "qq",
             "postal_code": "7909", "course_obligation": "on"},
            None,
        ),
        "edit client": (f"{client}/edit",
                        {"given_name": "", "country_of_origin": "XX", "languages": ""}, None),
        "consent": (f"{client}/consents/new",
                    {"recipient_kind": "nobody", "signed_on": "morgen"}, None),
        "assessment": (f"{client}/assessments/new", {}, None),
        "agreement editor": (
            f"/t/freiburg/clients/{draft_client}/agreements/new",
            {"goal_slots": "1", "step_slots": "1", "goals-0-field": "work",
             "goals-0-target": "Arbeit", "goals-0-due_date": "",
             "goals-0-steps-0-description": "x", "goals-0-steps-0-due_date": "nie"},
            None,
        ),
        "sign": (f"{agreement}/sign", {"party": "nobody"}, agreement),
        "amend": (f"{agreement}/amend", {"reason": ""}, agreement),
        "review": (f"{agreement}/review", {f"result-{case.step_id}": "maybe"}, None),
        "close": (f"{agreement}/close", {"outcome": "", "balance": ""}, None),
        "referral": (f"{agreement}/steps/{case.step_id}/referral", {"purpose": "x"}, None),
    }  # fmt: skip
    for name, (path, data, page) in forms.items():
        response = post(http, path, data, page)
        assert response.status_code in (400, 422), (name, response.status_code)  # type: ignore[attr-defined]
        text = assert_spoken_german(response, name)
        if name == "new client, wrong values":
            for said in ("„Vorname“", "Herkunftsland aus der Liste", "Sprachen aus der Liste",
                         "Postleitzahl mit fünf Ziffern"):  # fmt: skip
                assert said in text, said
        if name == "agreement editor":
            assert "Ziel 1: Fällig bis" in text or "Ziel 1" in text

    admin = Client(sqlite_platform.dispatcher)
    login(admin, make_user(sqlite_platform, "freiburg", Role.TENANT_ADMIN))
    refused = post(admin, "/t/freiburg/admin/users",
                   {"username": "", "display_name": "", "role": "nobody"})  # fmt: skip
    assert_spoken_german(refused, "new user, unknown role")
    short = post(admin, "/t/freiburg/admin/users",
                 {"username": f"u{unique()}", "display_name": "X", "role": "counsellor",
                  "office": "mbe-caritas", "password": "short"})  # fmt: skip
    assert "„Erstes Passwort“ ist zu kurz" in assert_spoken_german(short, "new user, password")
    lead = Client(sqlite_platform.dispatcher)
    login(lead, make_user(sqlite_platform, "freiburg", Role.OFFICE_LEAD))
    figures = lead.get("/t/freiburg/figures?from=gestern")
    assert "„Von“ als vollständiges Datum" in visible_text(figures.get_data(as_text=True))


def test_english_when_switched(sqlite_platform: Platform, http: Client) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    http.set_cookie("integra_lang", "en")
    text = visible_text(post(http, "/t/freiburg/clients/new", {}).get_data(as_text=True))  # type: ignore[attr-defined]
    assert "Please fill in “Given name”" in text and "Bitte" not in text
    born = register(http, "Tom", f"Date-{unique()}")
    page = http.get(f"/t/freiburg/clients/{born}").get_data(as_text=True)
    assert "2 Mar 1988" in page  # British order, not "Mar 2, 1988"
    assert "Syria" in page and "Arabic, English" in page


def test_client_edit_page_and_lists(sqlite_platform: Platform, http: Client) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    family = f"Kaya-{unique()}"
    client_id = register(http, "Elif", family, languages=["tr"])
    page = http.get(f"/t/freiburg/clients/{client_id}").get_data(as_text=True)
    assert f'href="/t/freiburg/clients/{client_id}/edit">Angaben bearbeiten</a>' in page
    assert "Syrien" in page and "Türkisch" in page
    form = http.get(f"/t/freiburg/clients/{client_id}/edit").get_data(as_text=True)
    assert '<option value="SY" selected>Syrien</option>' in form
    assert '<option value="tr" selected>Türkisch</option>' in form
    saved = post(
        http, f"/t/freiburg/clients/{client_id}/edit",
        {"given_name": "Elif", "family_name": family, "birth_date": "1988-03-02",
         "arrival_date": (TODAY - timedelta(days=30)).isoformat(), "country_of_origin": "TR",
         "languages": ["tr", "de", ""], "postal_code": "79098"},
    )  # fmt: skip
    assert saved.status_code == 302  # type: ignore[attr-defined]
    shown = http.get(path_of(saved)).get_data(as_text=True)  # type: ignore[arg-type]
    assert "Die Änderungen wurden gespeichert." in shown and "Türkei" in shown
    with sqlite_platform.session("freiburg") as session:
        row = session.get(ClientRow, uuid.UUID(client_id))
        assert row is not None and row.country_of_origin == "TR" and row.languages == ["tr", "de"]
        update = session.scalars(
            select(AuditEvent).where(AuditEvent.client_id == row.id, AuditEvent.action == "update")
        ).one()
        assert update.detail["fields"] == ["country_of_origin", "languages", "postal_code"]


def test_duplicate_warning_before_a_second_registration(
    sqlite_platform: Platform, http: Client
) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    family = f"Müller-{unique()}"
    first = register(http, "Hélène", family)
    again = {
        "given_name": "helene", "family_name": family.upper(), "birth_date": "1988-03-02",
        "arrival_date": TODAY.isoformat(), "country_of_origin": "FR", "languages": "fr",
    }  # fmt: skip
    warned = post(http, "/t/freiburg/clients/new", again)
    assert warned.status_code == 200  # type: ignore[attr-defined]
    text = warned.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Diese Person ist vielleicht schon angelegt" in text and first in text
    with sqlite_platform.session("freiburg") as session:
        assert (
            len(session.scalars(select(ClientRow).where(ClientRow.family_name.ilike(family))).all())
            == 1
        )
    confirmed = post(http, "/t/freiburg/clients/new", {**again, "confirm_duplicate": "on"})
    assert confirmed.status_code == 302  # type: ignore[attr-defined]


def _user_id(platform: Platform, username: str) -> uuid.UUID:
    with platform.session("freiburg") as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def test_cases_belong_to_someone_and_are_handed_over(sqlite_platform: Platform) -> None:
    first, second = make_user(sqlite_platform, "freiburg"), make_user(sqlite_platform, "freiburg")
    owner, colleague, lead = (Client(sqlite_platform.dispatcher) for _ in range(3))
    login(owner, first)
    login(colleague, second)
    login(lead, make_user(sqlite_platform, "freiburg", Role.OFFICE_LEAD))
    family = f"Haidari-{unique()}"
    client_id = register(owner, "Zahra", family)
    mine = owner.get("/t/freiburg/").get_data(as_text=True)
    assert family in mine.split('id="office-cases"')[0]  # Meine Fälle
    theirs = colleague.get("/t/freiburg/").get_data(as_text=True)
    assert family not in theirs.split('id="office-cases"')[0]
    assert family in theirs.split('id="office-cases"')[1]  # the office's cases, for everyone

    assert (
        post(
            colleague,
            f"/t/freiburg/clients/{client_id}/responsible",
            {"responsible_id": str(_user_id(sqlite_platform, second.username))},
            f"/t/freiburg/clients/{client_id}",
        ).status_code
        == 403
    )  # type: ignore[attr-defined]
    handed = post(lead, f"/t/freiburg/clients/{client_id}/responsible",
                  {"responsible_id": str(_user_id(sqlite_platform, second.username))},
                  f"/t/freiburg/clients/{client_id}")  # fmt: skip
    assert handed.status_code == 302  # type: ignore[attr-defined]
    assert "Der Fall wurde übergeben." in lead.get(path_of(handed)).get_data(as_text=True)  # type: ignore[arg-type]
    assert family in colleague.get("/t/freiburg/clients?mine=1").get_data(as_text=True)
    assert family not in owner.get("/t/freiburg/clients?mine=1").get_data(as_text=True)
    stranger = post(
        lead, f"/t/freiburg/clients/{client_id}/responsible",
        {"responsible_id": str(uuid.uuid4())}, f"/t/freiburg/clients/{client_id}",
    )  # fmt: skip
    assert stranger.status_code == 422  # type: ignore[attr-defined]
    second_id = _user_id(sqlite_platform, second.username)
    with sqlite_platform.session("freiburg") as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "hand_over",
                                     AuditEvent.client_id == uuid.UUID(client_id))
        ).all()  # fmt: skip
        assert len(events) == 1
        assert events[0].detail["to_user"] == str(second_id)


def test_deactivating_asks_names_open_cases_and_can_be_undone(
    sqlite_platform: Platform,
) -> None:
    counsellor = make_user(sqlite_platform, "freiburg")
    http, admin = Client(sqlite_platform.dispatcher), Client(sqlite_platform.dispatcher)
    login(http, counsellor)
    family = f"Offen-{unique()}"
    register(http, "Sami", family)
    login(admin, make_user(sqlite_platform, "freiburg", Role.TENANT_ADMIN))
    user_id = _user_id(sqlite_platform, counsellor.username)
    path = f"/t/freiburg/admin/users/{user_id}/deactivate"
    users = admin.get("/t/freiburg/admin/users").get_data(as_text=True)
    assert f'href="{path}"' in users  # a link to the question, not a button that acts
    question = admin.get(path).get_data(as_text=True)
    assert "deaktivieren?" in question and family in question
    with sqlite_platform.session("freiburg") as session:
        assert session.get(User, user_id).active  # type: ignore[union-attr]  # asking changed nothing
    done = post(admin, path, {})
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert http.get("/t/freiburg/").status_code == 302  # logged out
    back = post(
        admin, f"/t/freiburg/admin/users/{user_id}/reactivate", {}, "/t/freiburg/admin/users"
    )
    assert "wieder aktiviert" in admin.get(path_of(back)).get_data(as_text=True)  # type: ignore[arg-type]
    with sqlite_platform.session("freiburg") as session:
        assert session.get(User, user_id).active  # type: ignore[union-attr]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == str(user_id))
        ).all()
        assert {"deactivate", "reactivate"} <= set(actions)
    login(http, counsellor)
    assert http.get("/t/freiburg/").status_code == 200


@pytest.mark.parametrize(
    "query", ["Ahmad Al-Khatib", "al-khatib ahmad", "Khatib", "AHMED al-khatib", "Al-Katib"]
)
def test_search_by_full_name_either_order_and_with_a_typo(platform: Platform, query: str) -> None:
    api = platform.api("freiburg")
    tag = f"q{unique()}"
    body = {"given_name": "Ahmad", "family_name": "Al-Khatib", "birth_date": "1980-01-01",
            "country_of_origin": "SY", "languages": ["ar"], "arrival_date": TODAY.isoformat(),
            "postal_code": None}  # fmt: skip
    api.ok("POST", "clients", {**body, "given_name": f"Ahmad {tag}"}, 201)
    found = api.ok("GET", f"clients?q={query} {tag}&page_size=100")
    assert [c["family_name"] for c in found["items"]] == ["Al-Khatib"], query


def test_search_ignores_accents_and_case(platform: Platform) -> None:
    api = platform.api("freiburg")
    family = f"Dubois{unique()}"
    api.ok("POST", "clients", {"given_name": "Hélène", "family_name": family,
           "birth_date": "1980-01-01", "country_of_origin": "FR", "languages": ["fr"],
           "arrival_date": TODAY.isoformat()}, 201)  # fmt: skip
    for query in (f"helene {family.lower()}", f"{family.upper()} HÉLÈNE"):
        assert api.ok("GET", f"clients?q={query}")["total"] == 1, query
    assert api.ok("GET", f"clients?q=zzzz {family}")["total"] == 0


def test_errors_are_pages_in_the_portal_and_json_in_the_api(
    sqlite_platform: Platform, http: Client
) -> None:
    login(http, make_user(sqlite_platform, "freiburg"))
    missing = http.get("/t/freiburg/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Seite nicht gefunden" in missing.get_data(as_text=True)
    wrong_method = http.delete("/t/freiburg/clients")
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    forbidden = http.get("/t/freiburg/admin/users")
    assert forbidden.status_code == 403 and "Keine Berechtigung" in forbidden.get_data(as_text=True)
    api_missing = http.get("/t/freiburg/api/v1/no-such-thing")
    assert api_missing.status_code == 404 and api_missing.json["code"] == "not_found"  # type: ignore[index]


def test_server_error_is_a_page(sqlite_platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.agreements.portal import queries

    http = Client(sqlite_platform.dispatcher)
    login(http, make_user(sqlite_platform, "freiburg"))
    app = sqlite_platform.dispatcher.tenant_app("freiburg")
    assert app is not None
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def broken(*_: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "my_cases", broken)
    failed = http.get("/t/freiburg/")
    assert failed.status_code == 500 and failed.mimetype == "text/html"
    assert "Ein Fehler ist aufgetreten" in failed.get_data(as_text=True)


def test_saved_messages_and_the_review_shows_referral_status(
    sqlite_platform: Platform, http: Client
) -> None:
    case = seed_office_case(sqlite_platform.api("freiburg"))
    login(http, make_user(sqlite_platform, "freiburg"))
    consent = post(http, f"/t/freiburg/clients/{case.client_id}/consents/new",
                   {"recipient_kind": "jobcenter", "purposes": ["work"],
                    "data_categories": ["identity"], "signed_on": TODAY.isoformat()})  # fmt: skip
    page = http.get(path_of(consent)).get_data(as_text=True)  # type: ignore[arg-type]
    assert '<p class="notice-success" role="status">Die Einwilligung wurde gespeichert.</p>' in page
    review = http.get(f"/t/freiburg/agreements/{case.agreement_id}/review").get_data(as_text=True)
    assert "Weiterleitung zu diesem Schritt" in review and "Angefordert" in review
    nonsense = http.get("/t/freiburg/clients?saved=nonsense").get_data(as_text=True)
    assert "notice-success" not in nonsense


def test_a_typo_lists_the_closest_name_first(platform: Platform) -> None:
    api = platform.api("freiburg")
    tag = f"r{unique()}"
    for family in ("Al-Khatab", "Al-Khatib"):
        api.ok("POST", "clients", {"given_name": f"Omar {tag}", "family_name": family,
               "birth_date": "1980-01-01", "country_of_origin": "SY", "languages": ["ar"],
               "arrival_date": TODAY.isoformat()}, 201)  # fmt: skip
    found = api.ok("GET", f"clients?q=Al-Khatip {tag}")
    assert [c["family_name"] for c in found["items"]] == ["Al-Khatib", "Al-Khatab"]
    exact = api.ok("GET", f"clients?q=Al-Khat {tag}")  # as typed: alphabetical
    assert [c["family_name"] for c in exact["items"]] == ["Al-Khatab", "Al-Khatib"]
