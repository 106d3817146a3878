"""RabbitMQ: the production transport (one shared vhost, a broker user per tenant).

Publishing: :mod:`messaging.transports.pika_publisher`; consuming:
:mod:`messaging.transports.pika_runner`; the vhost, users and permissions:
:mod:`messaging.broker_admin`. The operator's views of the dead-letter queues read without
removing anything: messages are fetched unacknowledged and return to the queue when the
channel closes.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from messaging import broker_admin, topology
from messaging.broker_admin import BrokerAdmin, ProvisioningError, quote
from messaging.dead_letters import (
    DEAD_QUEUE_HEADER,
    DeadLetterEntry,
    QueueDepth,
    entry_from,
    replay_headers,
)
from messaging.transports.base import ConsumerRunner, InboxConsumer, Publisher
from messaging.transports.pika_publisher import PikaPublisher
from messaging.transports.pika_runner import PikaRunner
from tenants.registry import Tenant
from tenants.settings import Settings


class RabbitMQTransport:
    """The RabbitMQ broker of ``settings.broker_url`` (implements ``Transport``)."""

    name = "rabbitmq"
    clients_declare = False
    poll_interval = 0.02

    def __init__(self, settings: Settings) -> None:
        if not settings.broker_url:
            raise ValueError("RabbitMQTransport needs INTEGRA_BROKER_URL")
        self.settings = settings
        self.broker_url: str = settings.broker_url

    def url(self, tenant: Tenant, party: str | None = None, *, admin: bool = False) -> str:
        """``party`` given: the broker user that party of the tenant connects as (the tenant's
        own, or an agency's); ``admin`` (or no party): the configured broker URL's credentials.
        Always on the shared vhost."""
        if admin or party is None:
            return self._url(None, None)
        user = topology.service_user(self.settings.broker_vhost, tenant, party)
        password = broker_admin.service_credentials(self.settings, tenant).get(user, "")
        if not password:
            raise ProvisioningError(f"no credentials for {user}; provision the tenant first")
        return self._url(user, password)

    def worker_url(self, role: str) -> str:
        """Where a platform worker of ``role`` connects (one user per role, all tenants)."""
        user = topology.worker_user(self.settings.broker_vhost, role)
        password = broker_admin.worker_credentials(self.settings).get(user, "")
        if not password:
            raise ProvisioningError(f"no credentials for {user}; run integra migrate first")
        return self._url(user, password)

    def _url(self, user: str | None, password: str | None, vhost: str | None = None) -> str:
        base = urllib.parse.urlsplit(self.broker_url)
        if user is None:
            user = urllib.parse.unquote(base.username or "guest")
            password = urllib.parse.unquote(base.password or "guest")
        query = f"?{base.query}" if base.query else ""
        return (
            f"{base.scheme}://{quote(user)}:{quote(password or '')}@{base.hostname or '127.0.0.1'}"
            f":{base.port or 5672}/{quote(vhost or self.settings.broker_vhost)}{query}"
        )

    def admin_url(self, vhost: str) -> str:
        """The operator's credentials on ``vhost`` (migrating a former tenant vhost)."""
        return self._url(None, None, vhost)

    def kombu_connection(self, url: str) -> Any:
        """With publisher confirms: a kombu publish returns once the broker has the message."""
        import kombu

        return kombu.Connection(
            url,
            transport_options={"confirm_publish": True, "confirm_timeout": 10},
            connect_timeout=5,
        )

    def publisher(self, tenant: Tenant, url: str, *, window: int = 500) -> Publisher:
        return PikaPublisher(url, window=window)

    def runner(self, consumer: InboxConsumer) -> ConsumerRunner:
        return PikaRunner(consumer)

    def provision(self, tenant: Tenant) -> None:
        """The tenant's broker users and permissions, then its queues in the shared vhost."""
        import pika

        broker_admin.provision_users(self.settings, tenant)
        if not broker_admin.worker_credentials(self.settings):
            # the workers serving every tenant read its queues as their own users
            broker_admin.provision_workers(self.settings)
        connection = pika.BlockingConnection(pika.URLParameters(self.url(tenant, admin=True)))
        try:
            topology.declare_pika(connection.channel(), tenant)
        finally:
            connection.close()

    def deprovision(self, tenant: Tenant, extra_users: Iterable[str] = ()) -> None:
        broker_admin.deprovision_users(self.settings, tenant, extra_users)

    @contextmanager
    def _admin_channel(self, tenant: Tenant) -> Iterator[Any]:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(self.url(tenant, admin=True)))
        try:
            yield conn.channel()
        finally:
            if conn.is_open:
                conn.close()

    def dead_letters(self, tenant: Tenant) -> list[DeadLetterEntry]:
        entries: list[DeadLetterEntry] = []
        for spec in topology.queues(tenant):
            with self._admin_channel(tenant) as channel:
                for _method, props, _body in _peek(channel, spec.dead_letter_queue):
                    entries.append(
                        entry_from(
                            spec.dead_letter_queue,
                            dict(props.headers or {}),
                            {"message_id": props.message_id, "type": props.type},
                        )
                    )
        return entries

    def replay(self, tenant: Tenant, message_id: object = None) -> int:
        """Send dead letters (all, or the one with ``message_id``) back to their queue, to be
        checked again from scratch; returns how many."""
        message_id = None if message_id is None else str(message_id)
        import pika

        replayed = 0
        for spec in topology.queues(tenant):
            with self._admin_channel(tenant) as channel:
                channel.confirm_delivery()
                for method, props, body in _peek(channel, spec.dead_letter_queue):
                    if message_id is not None and props.message_id != message_id:
                        continue
                    headers = replay_headers(dict(props.headers or {}))
                    channel.basic_publish(
                        "",
                        str(headers.get(DEAD_QUEUE_HEADER) or spec.name),
                        body,
                        pika.BasicProperties(
                            message_id=props.message_id,
                            correlation_id=props.correlation_id,
                            type=props.type,
                            content_type=props.content_type,
                            delivery_mode=2,
                            headers=headers,
                        ),
                        mandatory=True,
                    )  # confirmed (BlockingChannel raises if returned or nacked)
                    channel.basic_ack(method.delivery_tag)
                    replayed += 1
        return replayed

    def queue_depths(self, tenant: Tenant, names: Sequence[str]) -> list[QueueDepth]:
        """One management call per queue: the shared vhost holds every tenant's queues."""
        admin = BrokerAdmin.from_settings(self.settings)
        depths = []
        for name in names:
            found = admin.queue(self.settings.broker_vhost, name, missing_ok=True) or {}
            depths.append(
                QueueDepth(
                    name,
                    int(found.get("messages_ready", 0)),
                    int(found.get("messages_unacknowledged", 0)),
                )
            )
        return depths


def _peek(channel: Any, queue: str) -> list[tuple[Any, Any, bytes]]:
    """Fetch everything unacknowledged; closing the channel puts it all back."""
    out: list[tuple[Any, Any, bytes]] = []
    while True:
        method, props, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            return out
        out.append((method, props, body))
