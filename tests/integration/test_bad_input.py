"""Bad input on every POST/PUT/PATCH endpoint, on PostgreSQL and SQLite.

Wrong types, unknown fields, oversized strings and bodies, impossible dates, malformed JSON,
the wrong content type, invalid enum values and UUIDs, empty lists where one is required:
each answers 400, 413, 415 or 422 with the machine code, field errors naming the field
(where there is a field to name), and writes nothing at all (every table keeps its row count).

Each body endpoint gets the generic cases automatically (``GENERIC``), plus its own cases
(``SPECIFIC``); ``test_every_body_endpoint_is_covered`` fails when the app grows a body
endpoint that is not in ``BODY_ROUTES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest

from tests.fixtures.cases import new_client, row_counts, sign_both
from tests.fixtures.factories import (
    agreement_body,
    client_body,
    consent_body,
    day,
)
from tests.fixtures.platform import Api, Platform

TENANT = "freiburg"
MIB = 1024 * 1024


@dataclass(frozen=True)
class World:
    """What the cases share: a client with a consent, and a draft of another client (whose
    steps and goals are "of another agreement"). Neither is ever the target of a case."""

    platform: Platform
    api: Api
    client: dict[str, Any]
    consent: dict[str, Any]  # jobcenter; purposes work + language
    draft: dict[str, Any]


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def world(request: pytest.FixtureRequest) -> World:
    name = "pg_platform" if request.param == "postgresql" else "sqlite_platform"
    platform: Platform = request.getfixturevalue(name)
    api = platform.api(TENANT)
    client = new_client(api)
    consent = api.ok("POST", f"clients/{client['id']}/consents", consent_body(), 201)
    other = new_client(api)
    draft = api.ok("POST", f"clients/{other['id']}/agreements", agreement_body(1, 1), 201)
    return World(platform, api, client, consent, draft)


class Targets(Mapping[str, str]):
    """Fresh objects for one case, made on first use, in the state where the endpoint would
    accept a valid body: so a refusal can only be due to the input, and an input that is
    wrongly accepted cannot spoil the next case. As a mapping: the ids for the path."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.api = world.api

    @cached_property
    def client(self) -> dict[str, Any]:
        return new_client(self.api)  # born 1990-04-12, arrived 120 days ago

    @cached_property
    def obliged(self) -> dict[str, Any]:
        return new_client(
            self.api, course_obligation=True, course_obligation_imposed_by="jobcenter"
        )

    @cached_property
    def consent(self) -> dict[str, Any]:
        return self.api.ok(  # type: ignore[no-any-return]
            "POST", f"clients/{self.world.client['id']}/consents", consent_body(), 201
        )

    @cached_property
    def draft(self) -> dict[str, Any]:
        client = new_client(self.api)
        return self.api.ok(  # type: ignore[no-any-return]
            "POST", f"clients/{client['id']}/agreements", agreement_body(2, 1), 201
        )

    @cached_property
    def active(self) -> dict[str, Any]:
        client = new_client(self.api)
        draft = self.api.ok("POST", f"clients/{client['id']}/agreements", agreement_body(2, 1), 201)
        return sign_both(self.api, draft["id"])

    @cached_property
    def referral(self) -> dict[str, Any]:
        body = {
            "client_id": self.world.client["id"],
            "recipient_kind": "jobcenter",
            "purpose": "language",
            "consent_id": self.world.consent["id"],
        }
        return self.api.ok("POST", "referrals", body, 201)  # type: ignore[no-any-return]

    def step(self) -> str:
        return str(self.active["goals"][0]["steps"][0]["id"])

    def goal(self) -> str:
        return str(self.active["goals"][0]["id"])

    def other_step(self) -> str:
        return str(self.world.draft["goals"][0]["steps"][0]["id"])

    def other_goal(self) -> str:
        return str(self.world.draft["goals"][0]["id"])

    def __getitem__(self, name: str) -> str:
        return str(getattr(self, name)["id"])

    def __iter__(self) -> Iterator[str]:
        return iter(("client", "obliged", "consent", "draft", "active", "referral"))

    def __len__(self) -> int:
        return 6


@dataclass(frozen=True)
class Raw:
    """A body sent as is, with its content type."""

    data: bytes | str
    content_type: str | None


Body = Any  # a JSON value, a Raw, or a callable Targets -> either


@dataclass(frozen=True)
class Case:
    route: str  # key of BODY_ROUTES
    body: Body
    status: int | tuple[int, ...] = 422
    field: str | None = None  # dotted path into the error's "fields"
    code: str | None = None


#: (method, Flask rule) of every body endpoint, and its path with Targets ids.
BODY_ROUTES: dict[str, tuple[str, str, str]] = {
    "create client": ("POST", "/api/v1/clients", "clients"),
    "update client": ("PATCH", "/api/v1/clients/<uuid:client_id>", "clients/{client}"),
    "update obliged client": ("PATCH", "/api/v1/clients/<uuid:client_id>", "clients/{obliged}"),
    "give consent": (
        "POST",
        "/api/v1/clients/<uuid:client_id>/consents",
        "clients/{client}/consents",
    ),
    "revoke consent": (
        "POST",
        "/api/v1/consents/<uuid:consent_id>/revoke",
        "consents/{consent}/revoke",
    ),
    "record assessment": (
        "POST",
        "/api/v1/clients/<uuid:client_id>/assessments",
        "clients/{client}/assessments",
    ),
    "draft agreement": (
        "POST",
        "/api/v1/clients/<uuid:client_id>/agreements",
        "clients/{client}/agreements",
    ),
    "replace draft": ("PUT", "/api/v1/agreements/<uuid:agreement_id>", "agreements/{draft}"),
    "sign": ("POST", "/api/v1/agreements/<uuid:agreement_id>/sign", "agreements/{draft}/sign"),
    "review": (
        "POST",
        "/api/v1/agreements/<uuid:agreement_id>/reviews",
        "agreements/{active}/reviews",
    ),
    "amend": (
        "POST",
        "/api/v1/agreements/<uuid:agreement_id>/amendments",
        "agreements/{active}/amendments",
    ),
    "close": ("POST", "/api/v1/agreements/<uuid:agreement_id>/close", "agreements/{active}/close"),
    "create referral": ("POST", "/api/v1/referrals", "referrals"),
    "withdraw referral": (
        "POST",
        "/api/v1/referrals/<uuid:referral_id>/withdraw",
        "referrals/{referral}/withdraw",
    ),
}

#: A body that each endpoint would accept (the base the generic cases spoil).
VALID: dict[str, Callable[[Targets], dict[str, Any]]] = {
    "create client": lambda w: client_body(),
    "update client": lambda w: {"given_name": "Neu"},
    "update obliged client": lambda w: {"given_name": "Neu"},
    "give consent": lambda w: consent_body(),
    "revoke consent": lambda w: {},
    "record assessment": lambda w: {"fields": {"language": {"level": "A2"}}},
    "draft agreement": lambda w: agreement_body(1, 1),
    "replace draft": lambda w: agreement_body(1, 1),
    "sign": lambda w: {"party": "client"},
    "review": lambda w: {"steps": [{"step_id": w.step(), "result": "done"}]},
    "amend": lambda w: {"reason": "Fortschreibung"},
    "close": lambda w: {"outcome": "goals_reached", "balance": "fertig"},
    "create referral": lambda w: {
        "client_id": w.world.client["id"],
        "recipient_kind": "jobcenter",
        "purpose": "language",
        "consent_id": w.world.consent["id"],
    },
    "withdraw referral": lambda w: {"reason": "erledigt"},
}


def _with(route: str, **changes: Any) -> Callable[[Targets], dict[str, Any]]:
    def body(world: Targets) -> dict[str, Any]:
        return {**VALID[route](world), **changes}

    return body


def _oversized(route: str) -> Callable[[Targets], Raw]:
    def body(world: Targets) -> Raw:
        padded = {**VALID[route](world), "padding": "x" * MIB}
        return Raw(json.dumps(padded), "application/json")

    return body


def _as_text(route: str) -> Callable[[Targets], Raw]:
    def body(world: Targets) -> Raw:
        return Raw(json.dumps(VALID[route](world)), "text/plain")

    return body


def _generic(route: str) -> list[Any]:
    return [
        pytest.param(
            Case(route, Raw('{"given_name": "Amina",', "application/json"), 400, None),
            id=f"{route}: malformed JSON",
        ),
        pytest.param(
            Case(route, _as_text(route), (400, 415, 422)),
            id=f"{route}: valid JSON sent as text/plain",
        ),
        pytest.param(
            Case(route, _oversized(route), 413, code="payload_too_large"),
            id=f"{route}: body over 1 MiB",
        ),
        pytest.param(
            Case(route, _with(route, unexpected="x"), 422, "unexpected"),
            id=f"{route}: unknown field",
        ),
        pytest.param(Case(route, [], 422, "_schema"), id=f"{route}: array instead of object"),
    ]


GENERIC = [case for route in BODY_ROUTES for case in _generic(route)]


def case(route: str, body: Body, field: str | None, label: str, **kw: Any) -> Any:
    return pytest.param(Case(route, body, field=field, **kw), id=f"{route}: {label}")


FUTURE = day(1)
FUTURE_TS = f"{day(2)}T10:00:00+00:00"

SPECIFIC = [
    # -- POST clients --------------------------------------------------------------------------
    case("create client", client_body(given_name=123), "given_name", "number as name"),
    case("create client", client_body(given_name="x" * 101), "given_name", "101-char name"),
    case("create client", client_body(family_name="x" * 101), "family_name", "101-char family"),
    case("create client", client_body(given_name=""), "given_name", "empty name"),
    case("create client", client_body(languages="ar"), "languages", "string as languages"),
    case("create client", client_body(languages=[]), "languages", "no language"),
    case("create client", client_body(languages=["Arabic"]), "languages.0", "language not ISO"),
    case("create client", client_body(languages=["ar"] * 21), "languages", "21 languages"),
    case("create client", client_body(birth_date="2023-02-30"), "birth_date", "30 February"),
    case("create client", client_body(birth_date="12.04.1990"), "birth_date", "German date"),
    case("create client", client_body(birth_date=FUTURE), "birth_date", "born tomorrow"),
    case("create client", client_body(birth_date="1899-12-31"), "birth_date", "born 1899"),
    case("create client", client_body(arrival_date=FUTURE), "arrival_date", "arrives tomorrow"),
    case(
        "create client",
        client_body(birth_date="2000-01-01", arrival_date="1999-12-31"),
        "arrival_date",
        "arrival before birth",
    ),
    case("create client", client_body(country_of_origin="Syria"), "country_of_origin", "country"),
    case("create client", client_body(residence_status="citizen"), "residence_status", "enum"),
    case("create client", client_body(office_id="caritas"), "office_id", "office id not a UUID"),
    case("create client", client_body(course_obligation="maybe"), "course_obligation", "bool"),
    case(
        "create client",
        client_body(course_obligation=True),
        "course_obligation_imposed_by",
        "§ 44a obligation without who imposed it",
    ),
    case(
        "create client",
        client_body(course_obligation=True, course_obligation_imposed_by="arbeitsagentur"),
        "course_obligation_imposed_by",
        "§ 44a imposed by an agency that cannot",
    ),
    case(
        "create client",
        client_body(household={"adults": "two"}),
        "household.adults",
        "household adults not a number",
    ),
    case("create client", client_body(household={"adults": 0}), "household.adults", "0 adults"),
    case("create client", client_body(household={"pets": 2}), "household.pets", "household key"),
    case("create client", client_body(health_notes="x" * 4001), "health_notes", "4001 chars"),
    case(
        "create client",
        {k: v for k, v in client_body().items() if k != "birth_date"},
        "birth_date",
        "birth date missing",
    ),
    case(
        "create client",
        Raw("given_name=Amina&family_name=Haddad", "application/x-www-form-urlencoded"),
        None,
        "form-encoded",
        status=(400, 415, 422),
    ),
    # -- PATCH clients/<id> -------------------------------------------------------------------
    case("update client", {"given_name": "x" * 101}, "given_name", "101-char name"),
    case("update client", {"given_name": None}, "given_name", "null name"),
    case("update client", {"languages": []}, "languages", "no language"),
    case("update client", {"birth_date": "2023-02-30"}, "birth_date", "30 February"),
    case("update client", {"birth_date": FUTURE}, "birth_date", "born tomorrow"),
    case(
        "update client",
        {"arrival_date": "1980-01-01"},
        "arrival_date",
        "arrival before the stored birth date",
    ),
    case(
        "update client",
        lambda w: {"birth_date": day(-1)},
        "birth_date",
        "birth after the stored arrival date",
    ),
    case(
        "update client",
        {"course_obligation": True},
        "course_obligation_imposed_by",
        "§ 44a obligation without who imposed it",
    ),
    case(
        "update obliged client",
        {"course_obligation_imposed_by": None},
        "course_obligation_imposed_by",
        "§ 44a obligation stays, who imposed it is removed",
    ),
    case(
        "update client",
        lambda w: {"office_id": w.client["office_id"]},
        "office_id",
        "office_id in a PATCH (an office changes only by transfer)",
        code="office_not_changeable",
    ),
    # -- POST clients/<id>/consents ------------------------------------------------------------
    case("give consent", consent_body(recipient_kind="sozialamt"), "recipient_kind", "kind"),
    case("give consent", consent_body(purposes=[]), "purposes", "no purpose"),
    case("give consent", consent_body(purposes="work"), "purposes", "string as purposes"),
    case("give consent", consent_body(purposes=["shopping"]), "purposes.0", "purpose enum"),
    case("give consent", consent_body(purposes=["work", "work"]), "purposes", "duplicate"),
    case("give consent", consent_body(data_categories=[]), "data_categories", "no category"),
    case(
        "give consent",
        consent_body(data_categories=["identity", "gossip"]),
        "data_categories.1",
        "category enum",
    ),
    case("give consent", consent_body(signed_at="yesterday"), "signed_at", "signed_at not a date"),
    case(
        "give consent",
        consent_body(signed_at="2023-02-30T10:00:00+00:00"),
        "signed_at",
        "signed on 30 February",
    ),
    case("give consent", consent_body(signed_at=FUTURE_TS), "signed_at", "signed tomorrow"),
    case(
        "give consent",
        consent_body(expires_at=f"{day(-2)}T10:00:00+00:00"),
        "expires_at",
        "expires before it was signed",
    ),
    case(
        "give consent",
        {k: v for k, v in consent_body().items() if k != "signed_at"},
        "signed_at",
        "signed_at missing",
    ),
    # -- POST consents/<id>/revoke --------------------------------------------------------------
    case(
        "revoke consent",
        Raw("revoked_at=2026-01-01", "application/x-www-form-urlencoded"),
        None,
        "form-encoded",
        status=(400, 415, 422),
    ),
    case("revoke consent", {"revoked_at": "never"}, "revoked_at", "revoked_at not a date"),
    case("revoke consent", {"revoked_at": 5}, "revoked_at", "number as revoked_at"),
    case(
        "revoke consent",
        {"revoked_at": "2001-01-01T00:00:00+00:00"},
        "revoked_at",
        "revoked before the consent was signed",
    ),
    case(
        "revoke consent",
        {"revoked_at": "2099-01-01T00:00:00+00:00"},
        "revoked_at",
        "revoked in the future",
    ),
    # -- POST clients/<id>/assessments ---------------------------------------------------------
    case("record assessment", {"fields": {}}, "fields", "no field"),
    case("record assessment", {}, "fields", "fields missing"),
    case("record assessment", {"fields": "A1"}, "fields", "string as fields"),
    case(
        "record assessment",
        {"fields": {"religion": {"situation": "x"}}},
        "fields.religion",
        "unknown assessment field",
    ),
    case(
        "record assessment",
        {"fields": {"language": {"level": "x" * 41}}},
        "fields.language.level",
        "41-char level",
    ),
    case(
        "record assessment",
        {"fields": {"language": {"needs": "Integrationskurs"}}},
        "fields.language.needs",
        "string as needs",
    ),
    case(
        "record assessment",
        {"fields": {"work": {"situation": "x" * 4001}}},
        "fields.work.situation",
        "4001-char situation",
    ),
    # -- POST clients/<id>/agreements and PUT agreements/<id> ----------------------------------
    *[
        item
        for route in ("draft agreement", "replace draft")
        for item in (
            case(route, {}, "goals", "goals missing"),
            case(route, {"goals": {}}, "goals", "object as goals"),
            case(route, {"goals": [{"field": "happiness"}]}, "goals.0.field", "goal field enum"),
            case(
                route,
                {"goals": [{"field": "work", "target": "", "due_date": day(30)}]},
                "goals.0.target",
                "empty target",
            ),
            case(
                route,
                {"goals": [{"field": "work", "target": "x" * 1001, "due_date": day(30)}]},
                "goals.0.target",
                "1001-char target",
            ),
            case(
                route,
                {"goals": [{"field": "work", "target": "x", "due_date": "2031-02-30"}]},
                "goals.0.due_date",
                "goal due on 30 February",
            ),
            case(
                route,
                {
                    "goals": [
                        {
                            "field": "work",
                            "target": "x",
                            "due_date": day(30),
                            "steps": [
                                {"description": "y", "owner_side": "client", "due_date": day(31)}
                            ],
                        }
                    ]
                },
                "goals.0.steps.0.due_date",
                "step due after its goal",
            ),
            case(
                route,
                {
                    "goals": [
                        {
                            "field": "work",
                            "target": "x",
                            "due_date": day(30),
                            "steps": [
                                {"description": "y", "owner_side": "nobody", "due_date": day(3)}
                            ],
                        }
                    ]
                },
                "goals.0.steps.0.owner_side",
                "owner side enum",
            ),
            case(
                route,
                {"goals": [{"field": "work", "target": "x", "due_date": day(30), "priority": 1}]},
                "goals.0.priority",
                "unknown goal field",
            ),
            case(
                route,
                {"goals": agreement_body(21, 1)["goals"]},
                "goals",
                "21 goals",
            ),
        )
    ],
    # -- POST agreements/<id>/sign --------------------------------------------------------------
    case("sign", {"party": "both"}, "party", "party enum"),
    case("sign", {}, "party", "party missing"),
    case("sign", {"party": "client", "signed_on": FUTURE}, "signed_on", "signed tomorrow"),
    case("sign", {"party": "client", "signed_on": "2023-02-30"}, "signed_on", "30 February"),
    case("sign", {"party": ["client"]}, "party", "list as party"),
    # -- POST agreements/<id>/reviews ----------------------------------------------------------
    case("review", {"steps": []}, "steps", "no step"),
    case("review", {"steps": [{"step_id": "step-1", "result": "done"}]}, "steps.0.step_id", "id"),
    case(
        "review",
        lambda w: {"steps": [{"step_id": w.step(), "result": "great"}]},
        "steps.0.result",
        "result enum",
    ),
    case(
        "review",
        lambda w: {"steps": [{"step_id": w.step(), "result": "done"}] * 2},
        "steps",
        "the same step twice",
    ),
    case(
        "review",
        lambda w: {"steps": [{"step_id": w.step(), "result": "done"}], "obstacles": "x" * 4001},
        "obstacles",
        "4001-char obstacles",
    ),
    case(
        "review",
        lambda w: {"steps": [{"step_id": w.other_step(), "result": "done"}]},
        "steps.step_id",
        "step of another agreement",
        code="step_not_in_agreement",
    ),
    # -- POST agreements/<id>/amendments -------------------------------------------------------
    case("amend", {}, "reason", "reason missing"),
    case("amend", {"reason": ""}, "reason", "empty reason"),
    case("amend", {"reason": "x" * 2001}, "reason", "2001-char reason"),
    case(
        "amend",
        {
            "reason": "x",
            "goals": [
                {
                    "field": "work",
                    "target": "x",
                    "due_date": day(30),
                    "steps": [{"description": "y", "owner_side": "client", "due_date": day(31)}],
                }
            ],
        },
        "goals.0.steps.0.due_date",
        "step due after its goal",
    ),
    # -- POST agreements/<id>/close ------------------------------------------------------------
    case("close", {"outcome": "success", "balance": "x"}, "outcome", "outcome enum"),
    case("close", {"outcome": "goals_reached"}, "balance", "balance missing"),
    case(
        "close",
        {"outcome": "goals_reached", "balance": "x", "goals": [{"goal_id": "g1"}]},
        "goals.0.goal_id",
        "goal id not a UUID",
    ),
    case(
        "close",
        lambda w: {
            "outcome": "goals_reached",
            "balance": "x",
            "goals": [{"goal_id": w.goal(), "attainment": "full"}],
        },
        "goals.0.attainment",
        "attainment enum",
    ),
    case(
        "close",
        lambda w: {
            "outcome": "goals_reached",
            "balance": "x",
            "goals": [{"goal_id": w.other_goal(), "attainment": "reached"}],
        },
        "goals.goal_id",
        "goal of another agreement",
        code="goal_not_in_agreement",
    ),
    case(
        "close",
        lambda w: {
            "outcome": "goals_reached",
            "balance": "x",
            "goals": [
                {"goal_id": w.goal(), "attainment": "reached"},
                {"goal_id": w.goal(), "attainment": "not_reached"},
            ],
        },
        "goals",
        "the same goal twice, with contradicting attainments",
    ),
    # -- POST referrals -------------------------------------------------------------------------
    case("create referral", _with("create referral", client_id="c1"), "client_id", "client id"),
    case("create referral", _with("create referral", consent_id=None), "consent_id", "null id"),
    case(
        "create referral",
        _with("create referral", recipient_kind="police"),
        "recipient_kind",
        "recipient enum",
    ),
    case("create referral", _with("create referral", purpose="fun"), "purpose", "purpose enum"),
    case("create referral", _with("create referral", note="x" * 2001), "note", "2001-char note"),
    case(
        "create referral",
        _with("create referral", purpose="residence"),
        "purpose",
        "purpose the consent does not cover",
        code="consent_does_not_cover",
    ),
    case(
        "create referral",
        _with("create referral", recipient_kind="arbeitsagentur", purpose="work"),
        "consent_id",
        "consent given for another agency",
        code="consent_does_not_cover",
    ),
    case(
        "create referral",
        lambda w: _with("create referral")(w) | {"step_id": w.other_step()},
        "step_id",
        "step of a draft, not of the active agreement",
        code="step_not_in_active_agreement",
    ),
    # -- POST referrals/<id>/withdraw ---------------------------------------------------------
    case("withdraw referral", {"reason": 5}, "reason", "number as reason"),
    case("withdraw referral", {"reason": "x" * 2001}, "reason", "2001-char reason"),
]


def field_error(fields: Any, dotted: str) -> Any:
    node = fields
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"no error for {dotted!r} in {fields}"
        node = node[part]
    return node


@pytest.mark.parametrize("bad", GENERIC + SPECIFIC)
def test_bad_input_is_refused_and_writes_nothing(world: World, bad: Case) -> None:
    method, _, template = BODY_ROUTES[bad.route]
    targets = Targets(world)
    path = template.format_map(targets)
    body = bad.body(targets) if callable(bad.body) else bad.body
    before = row_counts(world.platform, TENANT)
    if isinstance(body, Raw):
        headers = {"Content-Type": body.content_type} if body.content_type else {}
        response = world.api.request(method, path, data=body.data, headers=headers)
    else:
        response = world.api.request(method, path, json=body)
    text = response.get_data(as_text=True)
    allowed = bad.status if isinstance(bad.status, tuple) else (bad.status,)
    assert response.status_code in allowed, f"{response.status_code}: {text[:300]}"
    error = response.json
    assert isinstance(error, dict) and error["message"]["de"] and error["message"]["en"], text
    if bad.code:
        assert error["code"] == bad.code, error
    elif response.status_code == 400:
        assert error["code"] == "malformed_json", error
    elif response.status_code == 422 and bad.field:
        assert error["code"] == "invalid_input", error
    if bad.field:
        field_error(error.get("fields"), bad.field)
        # only the spoilt field is named: the rest of the body was valid
        assert set(error["fields"]) == {bad.field.split(".")[0]}, error["fields"]
    assert row_counts(world.platform, TENANT) == before, "refused input was written"


def test_every_body_endpoint_is_covered(world: World) -> None:
    app = world.platform.dispatcher.tenant_app(TENANT)
    assert app is not None
    body_routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in (rule.methods or set()) & {"POST", "PUT", "PATCH"}
    }
    covered = {(method, rule) for method, rule, _ in BODY_ROUTES.values()}
    assert body_routes == covered
    specific = {param.values[0].route for param in SPECIFIC}
    assert specific == set(BODY_ROUTES), "every body endpoint has its own cases"


@pytest.mark.parametrize("route", list(VALID))
def test_the_valid_bodies_are_accepted(world: World, route: str) -> None:
    """The generic cases spoil these bodies; they prove something only if these pass."""
    method, _, template = BODY_ROUTES[route]
    targets = Targets(world)
    response = world.api.request(method, template.format_map(targets), json=VALID[route](targets))
    assert response.status_code in (200, 201), response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "clients/not-a-uuid"),
        ("PATCH", "clients/12345"),
        ("POST", "clients/not-a-uuid/consents"),
        ("POST", "agreements/0000/sign"),
        ("POST", "referrals/x/withdraw"),
    ],
)
def test_an_invalid_uuid_in_the_path_is_not_found(world: World, method: str, path: str) -> None:
    before = row_counts(world.platform, TENANT)
    response = world.api.request(method, path, json={"party": "client"})
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.json["code"] == "not_found"
    assert row_counts(world.platform, TENANT) == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("clients?page=0", "page"),
        ("clients?page=first", "page"),
        ("clients?page_size=101", "page_size"),
        ("clients?q=", "q"),
        ("clients?q=" + "x" * 101, "q"),
        ("clients?agreement_status=lost", "agreement_status"),
        ("referrals?client_id=not-a-uuid", "client_id"),
        ("referrals?status=lost", "status"),
    ],
)
def test_bad_query_parameters_are_refused(world: World, query: str, field: str) -> None:
    """A refused list shows no case, so it audits no read either."""
    before = row_counts(world.platform, TENANT)
    response = world.api.get(query)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["code"] == "invalid_input"
    assert field_error(response.json["fields"], f"query.{field}")
    assert row_counts(world.platform, TENANT) == before
