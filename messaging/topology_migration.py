"""Moving an installation from a vhost per tenant to the shared vhost, one tenant at a time.

For each tenant: its users and queues are provisioned in the shared vhost; whatever is still
in its former vhost's queues is moved, message by message — taken from the old queue, published
to its new queue with a publisher confirm, and acknowledged on the old queue only after the
confirm — so a crash in between leaves a message in both places (the inbox makes the copy
harmless), never in neither. Once every old queue is empty the former vhost and the former
users (``<slug>.<party>``) are deleted. Running it again finds nothing left and changes
nothing. Stop the tenant's former workers first: a message they take meanwhile is handled
there, which is fine, but their queues must be empty before the vhost can go.

An agency's user keeps its password under its new name (``<vhost>.<slug>.agency-<kind>``): the
agency changes the user name, the vhost and the routing keys of its client, not its secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pika

from messaging import broker_admin, topology
from messaging.broker_admin import BrokerAdmin
from messaging.transports.rabbitmq import RabbitMQTransport
from tenants.registry import Tenant
from tenants.secrets import write_secret_json

log = logging.getLogger(__name__)

#: Properties copied from a moved message (everything AMQP 0-9-1 carries per message).
PROPERTIES = (
    "content_type", "content_encoding", "headers", "delivery_mode", "priority",
    "correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type", "user_id",
    "app_id",
)  # fmt: skip


@dataclass
class TopologyMigration:
    """What happened to one tenant."""

    tenant: str
    old_vhost: str
    moved: dict[str, int] = field(default_factory=dict)  # new queue -> messages moved
    left: dict[str, str] = field(default_factory=dict)  # old queue -> what is still there
    vhost_deleted: bool = False
    already_done: bool = False


def _carry_over_agency_passwords(transport: RabbitMQTransport, tenant: Tenant) -> None:
    """Give each agency's new user the password of its former one (the agency keeps it)."""
    settings = transport.settings
    creds = broker_admin.service_credentials(settings, tenant)
    changed = False
    for pair in topology.agency_pairs(tenant):
        old = f"{tenant.slug}.{pair.user_party}"
        new = topology.service_user(settings.broker_vhost, tenant, pair.user_party)
        if old in creds and new not in creds:
            creds[new] = creds[old]
            changed = True
    if changed:
        write_secret_json(settings.tenant_secrets_dir(tenant.slug) / broker_admin.USERS_FILE, creds)


def _move_queue(source: Any, target: Any, old: str, new: str) -> int:
    """Move every message of ``old`` (former vhost) to ``new`` (shared vhost); returns how many."""
    moved = 0
    while True:
        method, props, body = source.basic_get(old, auto_ack=False)
        if method is None:
            return moved
        properties = pika.BasicProperties(**{p: getattr(props, p) for p in PROPERTIES})
        if properties.headers:  # the quorum queue's own count means nothing in the new queue
            properties.headers.pop("x-delivery-count", None)
        # BlockingChannel with confirms: returns once the broker has it, raises on a nack or
        # (mandatory) when no queue took it; then the old copy stays where it was.
        target.basic_publish("", new, body, properties, mandatory=True)
        source.basic_ack(method.delivery_tag)
        moved += 1


def _depth(channel: Any, queue: str) -> int | None:
    """Messages in ``queue``, or None if it does not exist (a passive declare)."""
    try:
        return int(channel.queue_declare(queue, passive=True).method.message_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return None
        raise


def migrate_tenant(transport: RabbitMQTransport, tenant: Tenant) -> TopologyMigration:
    """Move ``tenant`` from its former vhost (the registry's ``vhost``) to the shared one."""
    settings = transport.settings
    admin = BrokerAdmin.from_settings(settings)
    result = TopologyMigration(tenant.slug, tenant.vhost)
    _carry_over_agency_passwords(transport, tenant)
    transport.provision(tenant)
    if tenant.vhost == settings.broker_vhost or tenant.vhost not in admin.vhosts():
        result.already_done = True
        _forget_former_users(transport, tenant, admin)
        return result
    source_conn = pika.BlockingConnection(pika.URLParameters(transport.admin_url(tenant.vhost)))
    target_conn = pika.BlockingConnection(pika.URLParameters(transport.url(tenant, admin=True)))
    try:
        target = target_conn.channel()
        target.confirm_delivery()
        for old, new in topology.legacy_queue_names(tenant).items():
            source = source_conn.channel()
            if _depth(source, old) is None:
                continue
            moved = _move_queue(source, target, old, new)
            if moved:
                result.moved[new] = moved
                log.info("%s: moved %d message(s) from %s/%s to %s", tenant.slug, moved,
                         tenant.vhost, old, new)  # fmt: skip
            source.close()
        # The management API's counts lag by seconds: ask each queue over AMQP instead.
        for queue in admin.queues(tenant.vhost):
            state = source_conn.channel().queue_declare(queue["name"], passive=True).method
            if state.message_count or state.consumer_count:
                result.left[queue["name"]] = (
                    f"{state.message_count} message(s), {state.consumer_count} consumer(s)"
                )
    finally:
        source_conn.close()
        target_conn.close()
    if result.left:
        log.warning("%s: former vhost %s kept: %s", tenant.slug, tenant.vhost, result.left)
        return result
    admin.delete_vhost(tenant.vhost)
    result.vhost_deleted = True
    _forget_former_users(transport, tenant, admin)
    return result


def _forget_former_users(transport: RabbitMQTransport, tenant: Tenant, admin: BrokerAdmin) -> None:
    settings = transport.settings
    creds = broker_admin.service_credentials(settings, tenant)
    for user in topology.legacy_users(tenant):
        admin.delete_user(user)
        creds.pop(user, None)
    write_secret_json(settings.tenant_secrets_dir(tenant.slug) / broker_admin.USERS_FILE, creds)
