"""schemathesis against one tenant's OpenAPI document, in process, as CI runs it.

Freiburg's document (``/t/freiburg/api/v1/openapi.json``) drives schemathesis' engine (the
same engine its command line runs: explicit examples, coverage of boundaries and of every
constraint the document states, then Hypothesis fuzzing) through the real gateway, as one
counsellor with a bearer token, on an embedded SQLite home of its own. Every answer must be
no server error, carry a status code, content type, headers and body the document states for
that operation; input the document rules out is refused; undeclared methods answer 405 with
``Allow``; every operation refuses a request without a token. At least :data:`MIN_CASES`
generated cases run, deterministically (fixed seed, derandomised Hypothesis), in under a
minute on a quiet machine.

The engine rather than schemathesis' pytest plugin: a schema built at import would need an
app at import, and the plugin's lazy ``from_fixture`` breaks on pytest 9.2 (it sets the
removed ``Node._nodeid``).

``INTEGRA_FUZZ_EXAMPLES`` (default :data:`DEFAULT_EXAMPLES`) is the number of fuzzed cases per
operation on top of the coverage phase; raise it for a longer run, e.g.
``INTEGRA_FUZZ_EXAMPLES=500 ./run test tests/integration/test_api_fuzz.py``.

Generated ids mostly point at nothing (404). So that many cases reach real objects, the hooks
below swap three of four well-formed generated ids for one of a set of seeded ones: a client
with consent, assessment, an active agreement and a referral; a client with a draft; one
with a signed agreement; the demo offer directory for the suggestions.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from deploy.demo_offers import seed_offers
from deploy.provisioning import provision_tenant
from deploy.wiring import tenant_dispatcher
from tenants.registry import load_registry
from tenants.settings import load_settings
from tests.fixtures.cases import agreement_in_state, seed_office_case
from tests.fixtures.platform import Api, Platform

SLUG = "freiburg"
#: A run that generated fewer cases than this tested too little to count.
MIN_CASES = 1000
DEFAULT_EXAMPLES = 25
SEED = 20261129
#: What every answer must satisfy (schemathesis' check names). Not among them:
#: ``positive_data_acceptance`` (schema-valid input is accepted), since some rules JSON Schema
#: cannot state (dates relative to today, one field against another, ids of other objects);
#: the document tells them in words, and such input answers 422 as documented.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "ignored_auth",
)


def fuzz_examples() -> int:
    value = os.environ.get("INTEGRA_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES))
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"INTEGRA_FUZZ_EXAMPLES must be a positive number, not {value!r}")
    return int(value)


@dataclass
class Seeded:
    """Ids of real objects, by the parameter and body field names the document uses."""

    token: str
    ids: dict[str, list[str]]

    def known_or_generated(self, name: str, value: Any) -> Any:
        """Three of four well-formed ids become one of the seeded ones (picked by the id
        itself, so the run stays deterministic); the rest, and anything malformed, stay."""
        pool = self.ids.get(name)
        if not pool or not isinstance(value, str):
            return value
        try:
            number = uuid.UUID(value).int
        except ValueError:
            return value
        return value if number % 4 == 0 else pool[number % len(pool)]

    def replace_ids(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.replace_ids(self.known_or_generated(k, v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.replace_ids(v) for v in value]
        return value


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Freiburg alone on an embedded home of its own: the run creates hundreds of clients,
    which no other test should find in its lists."""
    settings = load_settings({"INTEGRA_HOME": str(tmp_path_factory.mktemp("fuzz-home"))})
    registry = load_registry(settings.tenants_dir)
    provision_tenant(settings, registry.require(SLUG))
    platform = Platform(settings, registry, tenant_dispatcher(settings, registry))
    yield platform
    platform.dispatcher.dispose()
    for engine in platform.engines.values():
        engine.dispose()


def seed(platform: Platform) -> Seeded:
    api: Api = platform.api(SLUG)
    case = seed_office_case(api)
    draft_client, draft = agreement_in_state(api, "draft")
    signed_client, signed = agreement_in_state(api, "signed")
    with platform.session(SLUG) as session, session.begin():
        seed_offers(session, platform.tenant(SLUG))
    return Seeded(
        token=api.token,
        ids={
            "client_id": [case.client_id, draft_client["id"], signed_client["id"]],
            "consent_id": [case.consent_id],
            "agreement_id": [case.agreement_id, draft["id"], signed["id"]],
            "goal_id": [case.goal_id, draft["goals"][0]["id"]],
            "step_id": [case.step_id, draft["goals"][0]["steps"][0]["id"]],
            "referral_id": [case.referral_id],
        },
    )


def load_schema(platform: Platform, seeded: Seeded) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "headers": {"Authorization": f"Bearer {seeded.token}"},
            "generation": {
                "max-examples": fuzz_examples(),
                "deterministic": True,
                "database": "none",
                # JSON travels as UTF-8: a lone surrogate is not text (the API refuses it,
                # as the document says), so generating it only tests the refusal again.
                "codec": "utf-8",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # The document has no links between operations to walk.
            "phases": {"stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_wsgi(
        f"/t/{SLUG}/api/v1/openapi.json", platform.dispatcher, config=config
    )

    @schema.hook
    def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        return seeded.replace_ids(path_parameters)

    @schema.hook
    def map_body(context: Any, body: Any) -> Any:
        return seeded.replace_ids(body)

    return schema


@dataclass
class Outcome:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def take(self, recorder: Any) -> None:
        self.cases[recorder.label] += len(recorder.cases)
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[recorder.label, interaction.response.status_code] += 1
        for checks in recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    info = check.failure_info
                    self.failures.append(
                        f"{recorder.label}: {check.name}: {info.failure.title}\n"
                        f"{info.failure.message}\n{info.code_sample}"
                    )


def run_engine(schema: Any) -> Outcome:
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.take(event.recorder)
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return outcome


def test_every_answer_keeps_to_the_document(fuzz_platform: Platform) -> None:
    schema = load_schema(fuzz_platform, seed(fuzz_platform))
    operations = {op.ok().label for op in schema.get_all_operations()}

    started = time.monotonic()
    outcome = run_engine(schema)
    elapsed = time.monotonic() - started

    total = sum(outcome.cases.values())
    print(f"\nschemathesis: {total} cases over {len(operations)} operations in {elapsed:.1f} s")
    for (label, status), count in sorted(outcome.statuses.items()):
        print(f"  {label}: {status} × {count}")
    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, f"{len(outcome.failures)} failures:\n\n" + "\n\n".join(
        outcome.failures
    )
    assert set(outcome.cases) == operations, operations - set(outcome.cases)
    assert total >= MIN_CASES, f"only {total} cases ran"
