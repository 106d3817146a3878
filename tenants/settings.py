"""Platform configuration, declared in one place.

Every key can come from the environment or from a TOML config file that names the same keys
(``INTEGRA_CONFIG=/etc/integra.toml``); the environment wins. Unset means the embedded default:
SQLite files and the durable embedded bus under ``$INTEGRA_HOME/var``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class ConfigurationError(Exception):
    """A configuration value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class Setting:
    key: str
    default: str | None
    doc: str


#: The declared configuration keys, with defaults and documentation (README lists them).
DECLARED: tuple[Setting, ...] = (
    Setting(
        "INTEGRA_DATABASE_URL",
        None,
        "PostgreSQL server URL with a role allowed to create roles and databases; each tenant's "
        "database is derived from it unless its registry file names its own. Unset: one SQLite "
        "file per tenant under var/tenants/.",
    ),
    Setting(
        "INTEGRA_DATABASE_PREFIX",
        "integra",
        "Name of the shared database and the platform's login role; prefix of each tenant's "
        "schema and role (<prefix>_<tenant>).",
    ),
    Setting(
        "INTEGRA_DATABASE_POOL_SIZE",
        "5",
        "Connections each process keeps per database server (shared by all its tenants; as "
        "many again in bursts).",
    ),
    Setting(
        "INTEGRA_WORKER_THREADS",
        "4",
        "Threads each process runs for the bus work of all its tenants (relays, consumers, "
        "connector deliveries, simulators); an idle tenant holds none of them.",
    ),
    Setting("INTEGRA_BROKER_URL", None, "amqp://... of RabbitMQ; unset: the embedded bus."),
    Setting(
        "INTEGRA_BROKER_MANAGEMENT_URL",
        "http://127.0.0.1:15672",
        "RabbitMQ management API, used to provision vhosts and users.",
    ),
    Setting(
        "INTEGRA_BROKER_VHOST",
        "integra",
        "The one RabbitMQ virtual host all tenants share (queues and routing keys are "
        "prefixed with the tenant's slug; each tenant's broker user reaches only its own). "
        "Also prefixes the platform workers' broker users.",
    ),
    Setting("INTEGRA_PORT", "8000", "HTTP port of the gateway."),
    Setting("INTEGRA_HOST", "127.0.0.1", "Address the gateway listens on."),
    Setting("INTEGRA_HOME", None, "Where var/ lives; default the working directory."),
    Setting("INTEGRA_TENANTS_DIR", None, "Tenant registry folder; default the shipped registry."),
    Setting("INTEGRA_DOMAIN", None, "Base domain for <tenant>.<domain> host routing."),
    Setting("INTEGRA_TOKEN_LIFETIME", "3600", "Lifetime of API access tokens in seconds."),
    Setting(
        "INTEGRA_TRUSTED_PROXIES",
        "0",
        "How many reverse proxies (TLS terminators) stand in front of Integra. Their "
        "X-Forwarded-For, -Proto, -Host and -Port headers are believed, so that cookies are "
        "Secure, HSTS is sent and redirect URIs are https. 0: none (headers ignored).",
    ),
    Setting(
        "INTEGRA_ALLOWED_HOSTS",
        "localhost,127.0.0.1,::1",
        "Host names the gateway answers to (comma-separated; * for any), besides "
        "<tenant>.<INTEGRA_DOMAIN> and INTEGRA_DOMAIN itself. Another Host header is refused "
        "(400), so links and redirect URIs are never built from a forged one.",
    ),
    Setting(
        "INTEGRA_METRICS_TOKEN",
        None,
        "Bearer token that unlocks /metrics for a scraper; unset: /metrics answers only "
        "requests from the loopback interface.",
    ),
    Setting(
        "INTEGRA_LOG_FORMAT",
        "text",
        "text: one readable line per entry; json: one JSON object per line with tenant and "
        "correlation id, for a log collector (journald, Kubernetes).",
    ),
)

LOG_FORMATS = ("text", "json")


def _declared_defaults() -> dict[str, str | None]:
    return {s.key: s.default for s in DECLARED}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with :func:`load_settings`; never read os.environ later."""

    home: Path
    database_url: URL | None
    database_prefix: str
    broker_url: str | None
    broker_management_url: str
    port: int
    host: str
    tenants_dir: Path
    domain: str | None
    token_lifetime: int
    trusted_proxies: int = 0
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
    metrics_token: str | None = None
    database_pool_size: int = 5
    worker_threads: int = 4
    log_format: str = "text"
    broker_vhost: str = "integra"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def var_dir(self) -> Path:
        return self.home / "var"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    def tenant_secrets_dir(self, slug: str) -> Path:
        """Where a tenant's keys and generated passwords live (written by tenants.secrets)."""
        return self.secrets_dir / slug


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from a config file (``INTEGRA_CONFIG``) and the environment."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, str | None] = _declared_defaults()
    config_file = env.get("INTEGRA_CONFIG")
    if config_file:
        path = Path(config_file)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"INTEGRA_CONFIG {path}: {exc}") from exc
        unknown = set(data) - set(values)
        if unknown:
            raise ConfigurationError(f"{path}: unknown keys {sorted(unknown)}")
        values.update({k: str(v) for k, v in data.items()})
    for key in values:
        if env.get(key):
            values[key] = env[key]

    home = Path(values["INTEGRA_HOME"] or os.getcwd()).resolve()
    db_url: URL | None = None
    if values["INTEGRA_DATABASE_URL"]:
        try:
            db_url = make_url(values["INTEGRA_DATABASE_URL"])
        except Exception as exc:
            raise ConfigurationError(f"INTEGRA_DATABASE_URL: {exc}") from exc
        if db_url.get_backend_name() != "postgresql":
            raise ConfigurationError("INTEGRA_DATABASE_URL must name a PostgreSQL server")
        if db_url.drivername == "postgresql":
            db_url = db_url.set(drivername="postgresql+psycopg")
    prefix = values["INTEGRA_DATABASE_PREFIX"] or "integra"
    if not prefix.replace("_", "").isalnum() or not prefix[0].isalpha():
        raise ConfigurationError("INTEGRA_DATABASE_PREFIX: letters, digits and _ only")

    def _int(key: str) -> int:
        try:
            return int(values[key] or "")
        except ValueError:
            raise ConfigurationError(f"{key}: not a whole number: {values[key]!r}") from None

    port = _int("INTEGRA_PORT")
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"INTEGRA_PORT: {port} is not a TCP port (1-65535)")
    pool_size = _int("INTEGRA_DATABASE_POOL_SIZE")
    if not 1 <= pool_size <= 50:
        raise ConfigurationError("INTEGRA_DATABASE_POOL_SIZE: between 1 and 50 connections")
    worker_threads = _int("INTEGRA_WORKER_THREADS")
    if not 1 <= worker_threads <= 64:
        raise ConfigurationError("INTEGRA_WORKER_THREADS: between 1 and 64 threads")
    token_lifetime = _int("INTEGRA_TOKEN_LIFETIME")
    if token_lifetime < 1:
        raise ConfigurationError("INTEGRA_TOKEN_LIFETIME: must be at least 1 second")
    trusted_proxies = _int("INTEGRA_TRUSTED_PROXIES")
    if not 0 <= trusted_proxies <= 5:
        raise ConfigurationError("INTEGRA_TRUSTED_PROXIES: between 0 and 5 proxies")
    allowed_hosts = tuple(
        host.strip().lower().strip("[]")
        for host in (values["INTEGRA_ALLOWED_HOSTS"] or "").split(",")
        if host.strip()
    )
    broker_url = values["INTEGRA_BROKER_URL"]
    if broker_url and not broker_url.startswith(("amqp://", "amqps://")):
        raise ConfigurationError("INTEGRA_BROKER_URL: must be an amqp:// or amqps:// URL")

    log_format = (values["INTEGRA_LOG_FORMAT"] or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"INTEGRA_LOG_FORMAT: {log_format!r} is not one of text, json")
    broker_vhost = values["INTEGRA_BROKER_VHOST"] or "integra"
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", broker_vhost):
        raise ConfigurationError("INTEGRA_BROKER_VHOST: letters, digits, '.', '_' and '-' only")

    tenants_dir = (
        Path(values["INTEGRA_TENANTS_DIR"])
        if values["INTEGRA_TENANTS_DIR"]
        else Path(__file__).resolve().parent / "registry"
    )
    return Settings(
        home=home,
        database_url=db_url,
        database_prefix=prefix.lower(),
        broker_url=broker_url,
        broker_management_url=values["INTEGRA_BROKER_MANAGEMENT_URL"] or "",
        port=port,
        host=values["INTEGRA_HOST"] or "127.0.0.1",
        tenants_dir=tenants_dir,
        domain=(values["INTEGRA_DOMAIN"] or "").lower() or None,
        token_lifetime=token_lifetime,
        trusted_proxies=trusted_proxies,
        allowed_hosts=allowed_hosts,
        metrics_token=values["INTEGRA_METRICS_TOKEN"],
        database_pool_size=pool_size,
        worker_threads=worker_threads,
        log_format=log_format,
        broker_vhost=broker_vhost,
    )
