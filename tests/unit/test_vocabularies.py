"""The closed vocabularies the bus, the registry and the agreement service each declare must
agree: messaging may not import the services, so the lists stand in three places."""

from __future__ import annotations

from messaging import contracts
from services.agreements.models.vocabulary import AgencyKind, DataCategory, Purpose
from tenants import registry


def test_agency_kinds_agree() -> None:
    kinds = {k.value for k in AgencyKind}
    assert kinds == set(contracts.AGENCY_KINDS) == set(registry.AGENCY_KINDS)


def test_purposes_and_data_categories_agree() -> None:
    assert {p.value for p in Purpose} == set(contracts.PURPOSES)
    assert {c.value for c in DataCategory} == set(contracts.DATA_CATEGORIES)
