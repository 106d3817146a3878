"""The demo directory imports into a pilot tenant, once, and its offers are suggested."""

from __future__ import annotations

from deploy.demo_offers import demo_directory, seed_offers
from services.agreements.offers.operations.directory import import_directory
from tests.fixtures.factories import client_body
from tests.fixtures.platform import Platform

from .helpers import operator


def test_demo_offers_seed_once_and_are_suggested(sqlite_platform: Platform) -> None:
    slug = "essen"
    tenant = sqlite_platform.tenant(slug)
    with sqlite_platform.session(slug) as session, session.begin():
        from sqlalchemy import func, select

        from services.agreements.offers.models import OfferService

        had = session.scalar(select(func.count()).select_from(OfferService)) or 0
        if had == 0:
            assert seed_offers(session, tenant) is True
        else:  # other tests' offers came first: the demo directory imports all the same
            import_directory(session, operator(slug), demo_directory(tenant))
        assert seed_offers(session, tenant) is False
    api = sqlite_platform.api(slug)
    client = api.ok("POST", "clients", client_body(postal_code="45127", languages=["ar"]))
    answer = api.ok("GET", f"clients/{client['id']}/suggestions?field=childcare&q=Sonnenhügel")
    assert answer["items"] and answer["items"][0]["provider"] == "Kinderhaus Sonnenhügel e. V."
    assert "km" in answer["items"][0]["summary"]
