"""RabbitMQ administration: the shared vhost, each tenant's broker users, the platform
workers' users and their permissions, through the management HTTP API with the operator's
credentials. Names and permissions come from :mod:`messaging.topology`.

Generated passwords of a tenant's users are kept in ``<tenant secrets>/bus-users.json``, the
workers' in ``var/secrets/bus-workers.json``,
written by the one secret writer (``tenants.secrets``: 0600 from the first byte).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from messaging import topology
from tenants.registry import Tenant
from tenants.secrets import new_password, read_json, write_secret_json
from tenants.settings import Settings

USERS_FILE = "bus-users.json"
#: The platform workers' broker users (not a tenant's): ``var/secrets/bus-workers.json``.
WORKERS_FILE = "bus-workers.json"


class ProvisioningError(Exception):
    """The broker refused a provisioning step; the message names the step."""


def quote(part: str) -> str:
    """One path segment of a management API or AMQP URL (a vhost, a user name)."""
    return urllib.parse.quote(part, safe="")


@dataclass(frozen=True)
class BrokerAdmin:
    """Management API client authenticated with the admin credentials of the broker URL."""

    management_url: str
    username: str
    password: str

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerAdmin:
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
        self.request("PUT", f"vhosts/{quote(vhost)}", {"description": "Integra tenant"})

    def delete_vhost(self, vhost: str) -> None:
        self.request("DELETE", f"vhosts/{quote(vhost)}")

    def put_user(self, user: str, password: str) -> None:
        self.request("PUT", f"users/{quote(user)}", {"password": password, "tags": ""})

    def delete_user(self, user: str) -> None:
        self.request("DELETE", f"users/{quote(user)}")

    def put_permissions(self, vhost: str, user: str, perms: dict[str, str]) -> None:
        self.request("PUT", f"permissions/{quote(vhost)}/{quote(user)}", perms)

    def put_topic_permissions(
        self, vhost: str, user: str, exchange: str, write: str, read: str
    ) -> None:
        self.request(
            "PUT",
            f"topic-permissions/{quote(vhost)}/{quote(user)}",
            {"exchange": exchange, "write": write, "read": read},
        )

    def delete_queue(self, vhost: str, name: str) -> None:
        self.request("DELETE", f"queues/{quote(vhost)}/{quote(name)}")

    def vhosts(self) -> list[str]:
        return [v["name"] for v in self.request("GET", "vhosts") or []]

    def queue(self, vhost: str, name: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """The queue's management record; None for a missing one if ``missing_ok``."""
        try:
            result: dict[str, Any] = self.request("GET", f"queues/{quote(vhost)}/{quote(name)}")
        except ProvisioningError as exc:
            if missing_ok and "HTTP 404" in str(exc):
                return None
            raise
        return result

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", f"queues/{quote(vhost)}") or []
        return result


def _users_path(settings: Settings, tenant: Tenant) -> Path:
    return settings.tenant_secrets_dir(tenant.slug) / USERS_FILE


def _workers_path(settings: Settings) -> Path:
    return settings.secrets_dir / WORKERS_FILE


def service_credentials(settings: Settings, tenant: Tenant) -> dict[str, str]:
    """user name -> password of the tenant's broker users (empty before provisioning)."""
    data: dict[str, str] = read_json(_users_path(settings, tenant), {})
    return data


def worker_credentials(settings: Settings) -> dict[str, str]:
    """user name -> password of the platform workers' broker users."""
    data: dict[str, str] = read_json(_workers_path(settings), {})
    return data


def _put_user(
    admin: BrokerAdmin, vhost: str, user: str, password: str, perms: topology.Permissions
) -> None:
    admin.put_user(user, password)
    admin.put_permissions(vhost, user, perms.resource())
    for exchange, (write, read) in perms.topics.items():
        admin.put_topic_permissions(vhost, user, exchange, write, read)


def _ensure_vhost(admin: BrokerAdmin, vhost: str) -> None:
    admin.put_vhost(vhost)
    admin.put_permissions(vhost, admin.username, {"configure": ".*", "write": ".*", "read": ".*"})


def provision_users(settings: Settings, tenant: Tenant) -> None:
    """Create (or bring up to date) the shared vhost, the tenant's broker user and its agencies'
    users with their permissions. Idempotent: existing users keep their passwords."""
    admin = BrokerAdmin.from_settings(settings)
    vhost = settings.broker_vhost
    _ensure_vhost(admin, vhost)
    creds = service_credentials(settings, tenant)
    wanted = {topology.tenant_user(vhost, tenant): topology.tenant_permissions(tenant)}
    for pair in topology.agency_pairs(tenant):
        user = topology.service_user(vhost, tenant, pair.user_party)
        wanted[user] = topology.agency_permissions(pair)
    for user in wanted:
        creds.setdefault(user, new_password(24))
    write_secret_json(_users_path(settings, tenant), creds)  # before the broker knows them
    for user, perms in wanted.items():
        _put_user(admin, vhost, user, creds[user], perms)


def provision_workers(settings: Settings) -> dict[str, str]:
    """The platform workers' broker users, one per role (they serve every tenant); returns
    user name -> password. Idempotent: existing users keep their passwords."""
    admin = BrokerAdmin.from_settings(settings)
    vhost = settings.broker_vhost
    _ensure_vhost(admin, vhost)
    creds = worker_credentials(settings)
    for role in topology.WORKER_ROLES:
        creds.setdefault(topology.worker_user(vhost, role), new_password(24))
    write_secret_json(_workers_path(settings), creds)
    for role in topology.WORKER_ROLES:
        user = topology.worker_user(vhost, role)
        _put_user(admin, vhost, user, creds[user], topology.worker_permissions(role))
    return creds


def deprovision_users(settings: Settings, tenant: Tenant, extra_users: Iterable[str] = ()) -> None:
    """Delete the tenant's queues (with their messages) from the shared vhost, and its users."""
    admin = BrokerAdmin.from_settings(settings)
    for name in topology.tenant_queue_names(tenant):
        admin.delete_queue(settings.broker_vhost, name)
    for user in {*service_credentials(settings, tenant), *extra_users}:
        admin.delete_user(user)
    for party in topology.broker_parties(tenant):
        admin.delete_user(topology.service_user(settings.broker_vhost, tenant, party))
    _users_path(settings, tenant).unlink(missing_ok=True)


def drop_installation(settings: Settings) -> None:
    """Delete the shared vhost (every queue and message in it) and the workers' users: the end
    of a test run or benchmark. Tenants' users go with :func:`deprovision_users`."""
    admin = BrokerAdmin.from_settings(settings)
    admin.delete_vhost(settings.broker_vhost)
    for role in topology.WORKER_ROLES:
        admin.delete_user(topology.worker_user(settings.broker_vhost, role))
    _workers_path(settings).unlink(missing_ok=True)
