"""The bus topology, declared in this one module.

Per tenant: its own virtual host; a topic exchange ``integra.events`` routing on
``<recipient>.<type>``; a dead-letter exchange ``integra.dead``; for each consuming party a
quorum queue ``<party>.inbox`` with a delivery limit and its dead-letter queue
``<party>.dead``. Every declaration is idempotent (same arguments each time).

One RabbitMQ user per service and tenant, whose permissions reach only its own vhost: it may
publish to the two exchanges and read only its own queue; it may not declare anything. The
provisioning (admin credentials from ``settings.broker_url``) creates vhost, users, permissions
and topology through the management HTTP API and AMQP. Generated passwords are kept in
``secrets_dir/<tenant>/bus-users.json`` (mode 0600).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

EVENTS_EXCHANGE = "integra.events"
DEAD_EXCHANGE = "integra.dead"
AGREEMENTS = "agreements"
#: Redeliveries before a quorum queue dead-letters a message whose consumer keeps dying.
DELIVERY_LIMIT = 5
USERS_FILE = "bus-users.json"


class BusSettings(Protocol):
    @property
    def broker_url(self) -> str | None: ...
    @property
    def broker_management_url(self) -> str: ...
    @property
    def secrets_dir(self) -> Path: ...
    @property
    def var_dir(self) -> Path: ...


class TenantLike(Protocol):
    @property
    def slug(self) -> str: ...
    @property
    def vhost(self) -> str: ...
    @property
    def partners(self) -> Sequence[Any]: ...


class ProvisioningError(Exception):
    """The broker refused a provisioning step; the message names the step."""


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's queue: what it binds and where its dead letters go."""

    party: str

    @property
    def name(self) -> str:
        return f"{self.party}.inbox"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.party}.dead"

    @property
    def binding_key(self) -> str:
        return f"{self.party}.#"

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    dead_letter_arguments = {"x-queue-type": "quorum"}


def parties(tenant: TenantLike) -> list[str]:
    """Consuming parties: the agreement service and one connector per partner agency kind."""
    return [AGREEMENTS, *sorted({p.kind for p in tenant.partners})]


def queues(tenant: TenantLike) -> list[QueueSpec]:
    return [QueueSpec(p) for p in parties(tenant)]


@dataclass(frozen=True)
class AgencyPair:
    """The queue pair of a partner agency on the AMQP channel (in the tenant's vhost).

    The connector publishes to ``to_agency`` (bound to ``referrals``, which the agency reads);
    the agency publishes to ``from_agency`` (bound to ``answers``, which the connector reads).
    """

    kind: str

    @property
    def referrals(self) -> str:
        return f"agency.{self.kind}.referrals"

    @property
    def answers(self) -> str:
        return f"agency.{self.kind}.answers"

    @property
    def to_agency(self) -> str:
        return f"agency.{self.kind}.to-agency"

    @property
    def from_agency(self) -> str:
        return f"agency.{self.kind}.from-agency"

    @property
    def user_party(self) -> str:
        """The agency's broker user is ``<tenant>.agency-<kind>``."""
        return f"agency-{self.kind}"

    arguments = {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT}


def agency_pairs(tenant: TenantLike) -> list[AgencyPair]:
    """Partners reached over the AMQP channel get a queue pair."""
    return [AgencyPair(p.kind) for p in tenant.partners if getattr(p, "channel", "") == "amqp"]


def service_user(tenant: TenantLike, party: str) -> str:
    return f"{tenant.slug}.{party}"


def _alternatives(names: Iterable[str]) -> str:
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def service_permissions(party: str, tenant: TenantLike | None = None) -> dict[str, str]:
    """Configure nothing, publish to the tenant's exchanges, read only its own queue.

    A connector whose agency uses the AMQP channel may also publish to the agency's
    ``to-agency`` exchange and read its ``answers`` queue; an agency's own user may only read
    its ``referrals`` queue and publish to its ``from-agency`` exchange.
    """
    pairs = {pair.kind: pair for pair in agency_pairs(tenant)} if tenant is not None else {}
    agency = next((p for p in pairs.values() if p.user_party == party), None)
    if agency is not None:
        return {
            "configure": "^$",
            "write": _alternatives([agency.from_agency]),
            "read": _alternatives([agency.referrals]),
        }
    write = [EVENTS_EXCHANGE, DEAD_EXCHANGE]
    read = [QueueSpec(party).name]
    if party in pairs:
        write.append(pairs[party].to_agency)
        read.append(pairs[party].answers)
    return {"configure": "^$", "write": _alternatives(write), "read": _alternatives(read)}


# --- declaration over AMQP (pika) --------------------------------------------------------------


def declare_pika(channel: Any, tenant: TenantLike) -> None:
    """Declare exchanges, queues and bindings on a pika BlockingChannel (idempotent)."""
    channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_EXCHANGE, exchange_type="topic", durable=True)
    for spec in queues(tenant):
        channel.queue_declare(spec.name, durable=True, arguments=spec.arguments)
        channel.queue_bind(spec.name, EVENTS_EXCHANGE, routing_key=spec.binding_key)
        channel.queue_declare(
            spec.dead_letter_queue, durable=True, arguments=spec.dead_letter_arguments
        )
        channel.queue_bind(spec.dead_letter_queue, DEAD_EXCHANGE, routing_key=spec.name)
    for pair in agency_pairs(tenant):
        for exchange, queue in ((pair.to_agency, pair.referrals), (pair.from_agency, pair.answers)):
            channel.exchange_declare(exchange, exchange_type="direct", durable=True)
            channel.queue_declare(queue, durable=True, arguments=pair.arguments)
            channel.queue_bind(queue, exchange, routing_key=queue)


# --- declaration on the embedded transport (kombu) ---------------------------------------------


def embedded_url(settings: BusSettings, tenant: TenantLike) -> str:
    """kombu SQLAlchemy transport on one SQLite file per tenant under var/bus."""
    return f"sqla+sqlite:///{settings.var_dir / 'bus' / f'{tenant.slug}.sqlite3'}"


def kombu_entities(tenant: TenantLike) -> tuple[Any, Any, list[Any]]:
    """kombu Exchange objects and Queue objects (inbox and dead-letter) of a tenant."""
    from kombu import Exchange, Queue

    events = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
    dead = Exchange(DEAD_EXCHANGE, type="topic", durable=True)
    entities: list[Any] = []
    for spec in queues(tenant):
        entities.append(Queue(spec.name, events, routing_key=spec.binding_key, durable=True))
        entities.append(Queue(spec.dead_letter_queue, dead, routing_key=spec.name, durable=True))
    for pair in agency_pairs(tenant):
        for exchange, queue in ((pair.to_agency, pair.referrals), (pair.from_agency, pair.answers)):
            entities.append(
                Queue(
                    queue,
                    Exchange(exchange, type="direct", durable=True),
                    routing_key=queue,
                    durable=True,
                )
            )
    return events, dead, entities


def declare_kombu(connection: Any, tenant: TenantLike) -> None:
    """Declare the same topology on a kombu connection (embedded bus)."""
    events, dead, entities = kombu_entities(tenant)
    channel = connection.default_channel
    events.bind(channel).declare()
    dead.bind(channel).declare()
    for queue in entities:
        queue.bind(channel).declare()  # declares its exchange too


# --- provisioning through the management API ----------------------------------------------------


@dataclass(frozen=True)
class BrokerAdmin:
    """Management API client authenticated with the admin credentials of the broker URL."""

    management_url: str
    username: str
    password: str

    @classmethod
    def from_settings(cls, settings: BusSettings) -> BrokerAdmin:
        if not settings.broker_url:
            raise ProvisioningError("no broker configured (embedded bus)")
        url = urllib.parse.urlsplit(settings.broker_url)
        return cls(
            settings.broker_management_url.rstrip("/"),
            urllib.parse.unquote(url.username or "guest"),
            urllib.parse.unquote(url.password or "guest"),
        )

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - URL from the operator's configuration
            f"{self.management_url}/api/{path}", data=data, method=method
        )
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return None
            detail = exc.read().decode(errors="replace")
            raise ProvisioningError(f"{method} {path}: HTTP {exc.code} {detail}") from exc
        except urllib.error.URLError as exc:
            raise ProvisioningError(f"{method} {path}: {exc.reason}") from exc
        return json.loads(raw) if raw else None

    def put_vhost(self, vhost: str) -> None:
        self.request("PUT", f"vhosts/{_q(vhost)}", {"description": "Integra tenant"})

    def delete_vhost(self, vhost: str) -> None:
        self.request("DELETE", f"vhosts/{_q(vhost)}")

    def put_user(self, user: str, password: str) -> None:
        self.request("PUT", f"users/{_q(user)}", {"password": password, "tags": ""})

    def delete_user(self, user: str) -> None:
        self.request("DELETE", f"users/{_q(user)}")

    def put_permissions(self, vhost: str, user: str, perms: dict[str, str]) -> None:
        self.request("PUT", f"permissions/{_q(vhost)}/{_q(user)}", perms)

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"queues/{_q(vhost)}/{_q(name)}")
        return result


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _users_path(settings: BusSettings, tenant: TenantLike) -> Path:
    return settings.secrets_dir / tenant.slug / USERS_FILE


def service_credentials(settings: BusSettings, tenant: TenantLike) -> dict[str, str]:
    """user name -> password of the tenant's service users (empty before provisioning)."""
    path = _users_path(settings, tenant)
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        data: dict[str, str] = json.load(fh)
    return data


def _store_credentials(settings: BusSettings, tenant: TenantLike, creds: dict[str, str]) -> None:
    path = _users_path(settings, tenant)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(creds, fh, indent=2)
    os.replace(tmp, path)


def broker_url(
    settings: BusSettings, tenant: TenantLike, party: str | None = None, *, admin: bool = False
) -> str:
    """The URL a component of ``tenant`` connects with.

    ``party`` given: that service user's credentials on the tenant's vhost. ``admin``: the
    configured broker URL's credentials on the tenant's vhost (provisioning, operator). On the
    embedded bus both are the tenant's SQLite transport URL.
    """
    if not settings.broker_url:
        return embedded_url(settings, tenant)
    base = urllib.parse.urlsplit(settings.broker_url)
    host = base.hostname or "127.0.0.1"
    port = base.port or 5672
    if admin or party is None:
        user = urllib.parse.unquote(base.username or "guest")
        password = urllib.parse.unquote(base.password or "guest")
    else:
        user = service_user(tenant, party)
        password = service_credentials(settings, tenant).get(user, "")
        if not password:
            raise ProvisioningError(f"no credentials for {user}; provision the tenant first")
    query = f"?{base.query}" if base.query else ""
    return f"{base.scheme}://{_q(user)}:{_q(password)}@{host}:{port}/{_q(tenant.vhost)}{query}"


def provision_tenant_bus(settings: BusSettings, tenant: TenantLike) -> None:
    """Create (or bring up to date) the tenant's vhost, service users and topology.

    Idempotent: existing users keep their passwords. On the embedded bus, creates the
    tenant's SQLite transport file and declares the same topology there.
    """
    if not settings.broker_url:
        from messaging.embedded import open_connection

        (settings.var_dir / "bus").mkdir(parents=True, exist_ok=True)
        conn = open_connection(embedded_url(settings, tenant))
        try:
            declare_kombu(conn, tenant)
        finally:
            conn.release()
        return

    import pika

    admin = BrokerAdmin.from_settings(settings)
    admin.put_vhost(tenant.vhost)
    admin.put_permissions(
        tenant.vhost, admin.username, {"configure": ".*", "write": ".*", "read": ".*"}
    )
    creds = service_credentials(settings, tenant)
    for party in [*parties(tenant), *(pair.user_party for pair in agency_pairs(tenant))]:
        user = service_user(tenant, party)
        creds.setdefault(user, secrets.token_urlsafe(24))
        admin.put_user(user, creds[user])
        admin.put_permissions(tenant.vhost, user, service_permissions(party, tenant))
    _store_credentials(settings, tenant, creds)

    connection = pika.BlockingConnection(
        pika.URLParameters(broker_url(settings, tenant, admin=True))
    )
    try:
        declare_pika(connection.channel(), tenant)
    finally:
        connection.close()


def deprovision_tenant_bus(
    settings: BusSettings, tenant: TenantLike, extra_users: Iterable[str] = ()
) -> None:
    """Delete the tenant's vhost (with its queues and messages) and its service users."""
    if not settings.broker_url:
        path = settings.var_dir / "bus" / f"{tenant.slug}.sqlite3"
        path.unlink(missing_ok=True)
        return
    admin = BrokerAdmin.from_settings(settings)
    admin.delete_vhost(tenant.vhost)
    agency_users = [service_user(tenant, pair.user_party) for pair in agency_pairs(tenant)]
    for user in [*(service_user(tenant, p) for p in parties(tenant)), *agency_users, *extra_users]:
        admin.delete_user(user)
    _users_path(settings, tenant).unlink(missing_ok=True)
