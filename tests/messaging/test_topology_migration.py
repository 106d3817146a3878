"""``integra bus migrate-topology``: from a vhost per tenant to the shared vhost, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from click.testing import CliRunner

from deploy.cli import main
from deploy.wiring import bus_transport
from messaging import broker_admin, topology
from messaging.broker_admin import BrokerAdmin
from messaging.signing import ensure_tenant_keys
from messaging.topology_migration import migrate_tenant
from messaging.transports.rabbitmq import RabbitMQTransport
from tenants.registry import Tenant, load_registry
from tenants.secrets import write_secret_json
from tenants.settings import Settings, load_settings

from .conftest import BROKER_URL, TEST_VHOST, make_tenant

pytestmark = pytest.mark.rabbitmq

QUORUM = {"x-queue-type": "quorum"}


@pytest.fixture
def former(rabbitmq: None, settings: Settings) -> Iterator[Tenant]:
    """A tenant as the former topology left it: its own vhost with quorum queues holding
    messages, and users named ``<slug>.<party>``."""
    tenant = make_tenant()
    tenant = make_tenant(tenant.slug, f"{settings.broker_vhost}.former.{tenant.slug}")
    ensure_tenant_keys(settings, tenant.slug)
    admin = BrokerAdmin.from_settings(settings)
    admin.put_vhost(tenant.vhost)
    admin.put_permissions(
        tenant.vhost, admin.username, {"configure": ".*", "write": ".*", "read": ".*"}
    )
    passwords = {
        f"{tenant.slug}.agreements": "old-secret-a",
        f"{tenant.slug}.agency-jobcenter": "agency-secret",
    }
    for user, password in passwords.items():
        admin.put_user(user, password)
    write_secret_json(settings.tenant_secrets_dir(tenant.slug) / broker_admin.USERS_FILE, passwords)
    transport = bus_transport(settings)
    assert isinstance(transport, RabbitMQTransport)
    conn = pika.BlockingConnection(pika.URLParameters(transport.admin_url(tenant.vhost)))
    channel = conn.channel()
    channel.confirm_delivery()
    for old in topology.legacy_queue_names(tenant):
        channel.queue_declare(old, durable=True, arguments=QUORUM)
    waiting = [("jobcenter.inbox", f"m{i}") for i in range(3)]
    waiting += [("agreements.dead", "d1"), ("agency.jobcenter.referrals", "r1")]
    for queue, message_id in waiting:
        props = pika.BasicProperties(
            message_id=message_id, type="referral.requested", delivery_mode=2,
            headers={"x-integra-dead-reason": "handler_failed"},
        )  # fmt: skip
        channel.basic_publish("", queue, f"body of {message_id}".encode(), props, mandatory=True)
    conn.close()
    try:
        yield tenant
    finally:
        admin.delete_vhost(tenant.vhost)
        for user in passwords:
            admin.delete_user(user)
        transport.deprovision(tenant)


def _drain(settings: Settings, tenant: Tenant, queue: str) -> list[tuple[str, bytes, dict]]:
    transport = bus_transport(settings)
    conn = pika.BlockingConnection(pika.URLParameters(transport.url(tenant, admin=True)))
    out = []
    try:
        channel = conn.channel()
        while True:
            method, props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((props.message_id, body, dict(props.headers or {})))
    finally:
        conn.close()


def test_messages_left_in_a_former_vhost_move_and_the_vhost_goes(
    settings: Settings, former: Tenant
) -> None:
    transport = bus_transport(settings)
    assert isinstance(transport, RabbitMQTransport)
    admin = BrokerAdmin.from_settings(settings)
    stray = pika.BlockingConnection(pika.URLParameters(transport.admin_url(former.vhost)))
    stray.channel().queue_declare("stray", durable=True)
    stray.channel().basic_publish("", "stray", b"not ours to move")

    first = migrate_tenant(transport, former)
    slug = former.slug
    assert first.moved == {
        f"{slug}.jobcenter.inbox": 3, f"{slug}.agreements.dead": 1,
        f"{slug}.agency.jobcenter.referrals": 1,
    }  # fmt: skip
    assert (
        first.left == {"stray": "1 message(s), 0 consumer(s)"} and not first.vhost_deleted
    )  # nothing is thrown away
    assert former.vhost in admin.vhosts()

    stray.channel().queue_delete("stray")
    stray.close()
    second = migrate_tenant(transport, former)
    assert second.moved == {} and second.left == {} and second.vhost_deleted
    assert former.vhost not in admin.vhosts()
    third = migrate_tenant(transport, former)
    assert third.already_done and third.moved == {}

    inbox = _drain(settings, former, f"{slug}.jobcenter.inbox")
    assert [(m, b) for m, b, _h in inbox] == [(f"m{i}", f"body of m{i}".encode()) for i in range(3)]
    assert inbox[0][2] == {"x-integra-dead-reason": "handler_failed"}  # headers kept
    assert [m for m, _b, _h in _drain(settings, former, f"{slug}.agreements.dead")] == ["d1"]
    # the agency keeps its password under its new user name; former users are gone
    creds = broker_admin.service_credentials(settings, former)
    agency_user = topology.service_user(settings.broker_vhost, former, "agency-jobcenter")
    assert creds[agency_user] == "agency-secret"
    assert f"{slug}.agreements" not in creds and f"{slug}.agency-jobcenter" not in creds
    conn = pika.BlockingConnection(pika.URLParameters(transport.url(former, "agency-jobcenter")))
    _method, props, _body = conn.channel().basic_get(f"{slug}.agency.jobcenter.referrals")
    assert props.message_id == "r1"
    conn.close()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        former_url = transport.url(former, admin=True).replace(
            "guest:guest", f"{slug}.agreements:old-secret-a"
        )
        pika.BlockingConnection(pika.URLParameters(former_url))


def test_the_command_moves_named_tenants_and_refuses_without_a_broker(
    rabbitmq: None, tmp_path: Path
) -> None:
    from tests.fixtures.live import registry_copy

    registry = registry_copy(tmp_path / "registry", ("freiburg",), "unused")
    env = {"INTEGRA_HOME": str(tmp_path), "INTEGRA_TENANTS_DIR": str(registry)}
    refused = CliRunner().invoke(main, ["bus", "migrate-topology"], env=env)
    assert refused.exit_code == 1 and "no broker configured" in refused.output

    env |= {"INTEGRA_BROKER_URL": BROKER_URL, "INTEGRA_BROKER_VHOST": f"{TEST_VHOST}-cli"}
    settings = load_settings(env)
    try:
        for _ in range(2):  # idempotent
            done = CliRunner().invoke(main, ["bus", "migrate-topology", "freiburg"], env=env)
            assert done.exit_code == 0, done.output
            assert "freiburg" in done.output and "already on the shared vhost" in done.output
        assert broker_admin.worker_credentials(settings)  # the workers' users came along
        unknown = CliRunner().invoke(main, ["bus", "migrate-topology", "nowhere"], env=env)
        assert unknown.exit_code != 0 and "nowhere" in unknown.output
    finally:
        bus_transport(settings).deprovision(load_registry(registry).require("freiburg"))
        broker_admin.drop_installation(settings)
