"""The embedded bus: kombu's SQLAlchemy transport on one SQLite file per tenant under
``var/bus/``, so ``integra up`` needs no RabbitMQ. Same topology, same relay and consumer core
as on RabbitMQ; publishing and consuming are in :mod:`messaging.transports.kombu_bus`.

The operator's views (dead letters, replay, queue depths) read kombu's tables directly.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SADeprecationWarning
from sqlalchemy.pool import NullPool

from messaging import topology
from messaging.dead_letters import DeadLetterEntry, QueueDepth, entry_from, replay_headers
from messaging.transports.base import CONTENT_TYPE, ConsumerRunner, InboxConsumer, Publisher
from messaging.transports.kombu_bus import KombuPublisher, KombuRunner
from tenants.registry import Tenant
from tenants.secrets import create_private_file
from tenants.settings import Settings

POLLING_INTERVAL = 1.0  # kombu's own wait between polls, where it is asked to block


def open_connection(url: str) -> Any:
    """A kombu connection to the embedded bus, its table mappings configured quietly.

    kombu's models use ``lazy="noload"``, which SQLAlchemy 2.1 deprecates; the warning is
    about kombu's code, not ours, so it is silenced once while the mappers are configured.
    """
    import kombu
    from sqlalchemy.orm import configure_mappers

    # Several services of a tenant share its bus file: wait for SQLite's write lock instead of
    # failing with "database is locked" (the options go to kombu's create_engine). No pool:
    # kombu keeps an engine per file for the process's life, and a pooled connection would
    # hold the file open for every tenant ever touched.
    conn = kombu.Connection(
        url, transport_options={"connect_args": {"timeout": 30}, "poolclass": NullPool}
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SADeprecationWarning)
        channel: Any = conn.default_channel
        channel.queue_cls, channel.message_cls  # noqa: B018 - defines the kombu models
        configure_mappers()
    conn.transport.polling_interval = POLLING_INTERVAL
    return conn


def _visible_rows(channel: Any, queue: str) -> list[tuple[int, dict[str, Any]]]:
    rows = channel.session.execute(
        text(
            "SELECT m.id, m.payload FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
            " WHERE q.name = :q AND m.visible = 1 ORDER BY m.id"
        ),
        {"q": queue},
    ).all()
    return [(int(row_id), json.loads(payload)) for row_id, payload in rows]


def _body(message: dict[str, Any]) -> bytes:
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


class EmbeddedTransport:
    """The embedded bus of every tenant of ``settings`` (implements ``Transport``)."""

    name = "embedded"
    clients_declare = True
    poll_interval = 0.5  # every look is a SQLite query

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _path(self, tenant: Tenant) -> Any:
        return self.settings.var_dir / "bus" / f"{tenant.slug}.sqlite3"

    def url(self, tenant: Tenant, party: str | None = None, *, admin: bool = False) -> str:
        """Every party of a tenant shares its bus file (there are no broker users)."""
        return f"sqla+sqlite:///{self._path(tenant)}"

    def kombu_connection(self, url: str) -> Any:
        return open_connection(url)

    def publisher(self, tenant: Tenant, url: str, *, window: int = 500) -> Publisher:
        return KombuPublisher(url, tenant, open_connection)

    def runner(self, consumer: InboxConsumer) -> ConsumerRunner:
        return KombuRunner(consumer, open_connection)

    def provision(self, tenant: Tenant) -> None:
        """Create the tenant's bus file (0600, in a private folder) and declare the topology."""
        create_private_file(self._path(tenant))
        conn = open_connection(self.url(tenant))
        try:
            topology.declare_kombu(conn, tenant)
        finally:
            conn.release()

    def deprovision(self, tenant: Tenant, extra_users: Iterable[str] = ()) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            self._path(tenant).with_name(self._path(tenant).name + suffix).unlink(missing_ok=True)
        _forget_engine(str(self._path(tenant)))

    def dead_letters(self, tenant: Tenant) -> list[DeadLetterEntry]:
        entries: list[DeadLetterEntry] = []
        conn = open_connection(self.url(tenant))
        try:
            for spec in topology.queues(tenant):
                for _row_id, msg in _visible_rows(conn.default_channel, spec.dead_letter_queue):
                    entries.append(
                        entry_from(spec.dead_letter_queue, msg.get("headers") or {},
                                   msg["properties"])
                    )  # fmt: skip
        finally:
            conn.release()
        return entries

    def replay(self, tenant: Tenant, message_id: object = None) -> int:
        """Send dead letters (all, or the one with ``message_id``) back to their queue, to be
        checked again from scratch; returns how many."""
        message_id = None if message_id is None else str(message_id)
        replayed = 0
        conn = open_connection(self.url(tenant))
        try:
            channel = conn.default_channel
            producer = conn.Producer()
            for spec in topology.queues(tenant):
                for row_id, msg in _visible_rows(channel, spec.dead_letter_queue):
                    props = msg["properties"]
                    if message_id is not None and props.get("message_id") != message_id:
                        continue
                    producer.publish(
                        _body(msg),
                        exchange="",
                        routing_key=spec.name,
                        headers=replay_headers(msg.get("headers") or {}),
                        content_type=CONTENT_TYPE,
                        content_encoding="binary",
                        delivery_mode=2,
                        message_id=props.get("message_id"),
                        type=props.get("type"),
                        retry=False,
                    )
                    channel.session.execute(
                        text("DELETE FROM kombu_message WHERE id = :id"), {"id": row_id}
                    )
                    channel.session.commit()
                    replayed += 1
        finally:
            conn.release()
        return replayed

    def queue_depths(self, tenant: Tenant, names: Sequence[str]) -> list[QueueDepth]:
        depths: list[QueueDepth] = []
        conn = open_connection(self.url(tenant))
        try:
            session = conn.default_channel.session
            for name in names:
                ready, unacked = session.execute(
                    text(
                        "SELECT coalesce(sum(m.visible = 1), 0), coalesce(sum(m.visible = 0), 0)"
                        " FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id"
                        " WHERE q.name = :q"
                    ),
                    {"q": name},
                ).one()
                depths.append(QueueDepth(name, int(ready), int(unacked)))
        finally:
            conn.release()
        return depths


def _forget_engine(path: str) -> None:
    """kombu keeps one engine per bus file for the life of the process and creates its tables
    only when it makes one: after the file is gone, a new file needs a new engine."""
    from kombu.transport.sqlalchemy import Channel

    for key in [k for k in Channel._engines if str(k).endswith(path)]:
        engine, _session = Channel._engines.pop(key)
        engine.dispose()
