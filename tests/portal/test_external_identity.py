"""Staff of a tenant with an external OpenID Connect provider (e.g. Keycloak) are matched by
the id_token's issuer and subject, never by ``preferred_username`` (issue 13, item 9): a
provider lets its users change that name, so another person could come to carry it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from services.agreements.app import create_app, dispose_app
from services.agreements.errors import InvalidInput
from services.agreements.identity import staff
from services.agreements.identity.provider import user_for_claims
from services.agreements.models.vocabulary import Role
from tenants.registry import IdentityEntry
from tests.fixtures.platform import Platform, unique

ISSUER = "https://idp.example/realms/freiburg"


@pytest.fixture
def external_app(platform: Platform) -> Iterator[Flask]:
    """Freiburg's app, configured with an external provider."""
    tenant = dataclasses.replace(
        platform.tenant("freiburg"),
        identity=IdentityEntry(provider="oidc", issuer=ISSUER, client_id="integra-portal"),
    )
    app = create_app(platform.settings, tenant)
    yield app
    dispose_app(app)


def who(app: Flask, **claims: Any) -> str | None:
    with app.test_request_context("/"):
        user = user_for_claims(claims)
        return user.username if user is not None else None


def test_the_subject_of_the_issuer_decides(platform: Platform, external_app: Flask) -> None:
    name, subject = f"anna-{unique()}", f"sub-{unique()}"
    with platform.session("freiburg") as session, session.begin():
        staff.create_user(session, name, "Anna", Role.TENANT_ADMIN, external=(ISSUER, subject))
    assert who(external_app, iss=ISSUER, sub=subject, preferred_username="renamed") == name
    # The same name from another subject (a colleague renamed at the provider): nobody.
    assert who(external_app, iss=ISSUER, sub=f"sub-{unique()}", preferred_username=name) is None
    # The same subject from another issuer: nobody.
    assert who(external_app, iss="https://evil.example/", sub=subject) is None
    assert who(external_app, iss=ISSUER) is None


def test_a_subject_belongs_to_one_user(platform: Platform) -> None:
    subject = f"sub-{unique()}"
    with platform.session("freiburg") as session, session.begin():
        staff.create_user(
            session, f"a-{unique()}", "A", Role.TENANT_ADMIN, external=(ISSUER, subject)
        )
    with platform.session("freiburg") as session, session.begin():
        with pytest.raises(InvalidInput) as refused:
            staff.create_user(
                session, f"b-{unique()}", "B", Role.TENANT_ADMIN, external=(ISSUER, subject)
            )
        assert refused.value.code == "external_subject_taken"
