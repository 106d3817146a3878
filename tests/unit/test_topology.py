"""The shared-vhost topology's names and permissions (the broker enforces them: see
tests/messaging/test_broker_isolation.py); here, what the patterns match."""

from __future__ import annotations

import re

import pytest

from messaging import topology
from tests.messaging.conftest import make_tenant


def test_every_name_of_a_tenant_starts_with_its_slug() -> None:
    tenant = make_tenant("essen")
    names = topology.tenant_queue_names(tenant)
    assert set(names) == {
        "essen.agreements.inbox", "essen.agreements.dead", "essen.jobcenter.inbox",
        "essen.jobcenter.dead", "essen.agency.jobcenter.referrals",
        "essen.agency.jobcenter.answers",
    }  # fmt: skip
    assert topology.routing_key("essen", "jobcenter", "referral.requested") == (
        "essen.jobcenter.referral.requested"
    )
    assert all(q.binding_key == f"essen.{q.party}.#" for q in topology.queues(tenant))


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("essen.jobcenter.inbox", True),
        ("essen.x", True),
        ("essener.jobcenter.inbox", False),  # a slug that starts like ours is another tenant
        ("es.jobcenter.inbox", False),
        ("xessen.jobcenter.inbox", False),
        ("integra.events", False),
        ("amq.default", False),
    ],
)
def test_a_tenant_users_queue_patterns_stop_at_the_next_tenant(name: str, allowed: bool) -> None:
    perms = topology.tenant_permissions(make_tenant("essen"))
    assert bool(re.search(perms.configure, name)) is allowed
    shared = name in topology.SHARED_EXCHANGES  # publishing to and binding to them
    assert bool(re.search(perms.read, name)) is (allowed or shared)
    assert bool(re.search(perms.write, name)) is (allowed or shared)
    for write, read in perms.topics.values():  # the routing keys on them
        assert bool(re.search(write, name)) is allowed and bool(re.search(read, name)) is allowed


def test_user_names_live_under_the_vhost_and_never_collide() -> None:
    tenant = make_tenant("worker")  # a slug that looks like a role
    users = {
        topology.tenant_user("integra", tenant),
        topology.service_user("integra", tenant, "agency-jobcenter"),
        *(topology.worker_user("integra", role) for role in topology.WORKER_ROLES),
    }
    assert len(users) == 2 + len(topology.WORKER_ROLES)
    assert topology.service_user("integra", tenant, "agreements") == "integra.worker"
    with pytest.raises(ValueError, match="unknown worker role"):
        topology.worker_user("integra", "everything")


def test_legacy_names_map_to_the_shared_vhost() -> None:
    tenant = make_tenant("essen")
    legacy = topology.legacy_queue_names(tenant)
    assert legacy["jobcenter.inbox"] == "essen.jobcenter.inbox"
    assert legacy["agency.jobcenter.answers"] == "essen.agency.jobcenter.answers"
    assert sorted(legacy.values()) == sorted(topology.tenant_queue_names(tenant))
    assert topology.legacy_users(tenant) == [
        "essen.agreements", "essen.jobcenter", "essen.agency-jobcenter",
    ]  # fmt: skip
