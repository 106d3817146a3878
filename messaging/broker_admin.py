"""RabbitMQ administration of a tenant's bus: its vhost, its service users and their
permissions, through the management HTTP API with the operator's credentials.

Generated passwords of the service users are kept in ``<tenant secrets>/bus-users.json``,
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

    def queue(self, vhost: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"queues/{quote(vhost)}/{quote(name)}")
        return result

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", f"queues/{quote(vhost)}") or []
        return result


def _users_path(settings: Settings, tenant: Tenant) -> Path:
    return settings.tenant_secrets_dir(tenant.slug) / USERS_FILE


def service_credentials(settings: Settings, tenant: Tenant) -> dict[str, str]:
    """user name -> password of the tenant's service users (empty before provisioning)."""
    data: dict[str, str] = read_json(_users_path(settings, tenant), {})
    return data


def provision_users(settings: Settings, tenant: Tenant) -> None:
    """Create (or bring up to date) the tenant's vhost, service users and their permissions.
    Idempotent: existing users keep their passwords."""
    admin = BrokerAdmin.from_settings(settings)
    admin.put_vhost(tenant.vhost)
    admin.put_permissions(
        tenant.vhost, admin.username, {"configure": ".*", "write": ".*", "read": ".*"}
    )
    creds = service_credentials(settings, tenant)
    for party in topology.broker_parties(tenant):
        user = topology.service_user(tenant, party)
        creds.setdefault(user, new_password(24))
        admin.put_user(user, creds[user])
        admin.put_permissions(tenant.vhost, user, topology.service_permissions(party, tenant))
    write_secret_json(_users_path(settings, tenant), creds)


def deprovision_users(settings: Settings, tenant: Tenant, extra_users: Iterable[str] = ()) -> None:
    """Delete the tenant's vhost (with its queues and messages) and its service users."""
    admin = BrokerAdmin.from_settings(settings)
    admin.delete_vhost(tenant.vhost)
    for party in topology.broker_parties(tenant):
        admin.delete_user(topology.service_user(tenant, party))
    for user in extra_users:
        admin.delete_user(user)
    _users_path(settings, tenant).unlink(missing_ok=True)
