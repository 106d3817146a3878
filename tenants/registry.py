"""The tenant registry: one TOML file per municipality, validated at load.

A broken file is refused with an error naming the file and the field, so an operator never
starts a platform that half-knows a municipality.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from tenants.vocabulary import AGENCY_KINDS, CHANNELS

SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
FEDERAL_STATES = (
    "BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH",
)  # fmt: skip
TENANT_KINDS = ("city", "district", "borough")
PROGRAMMES = ("MBE", "JMD")


class RegistryError(Exception):
    """A registry file is missing, unreadable or invalid."""


@dataclass(frozen=True)
class OfficeEntry:
    key: str
    name: str
    programme: str
    carrier: str
    address: str


@dataclass(frozen=True)
class PartnerEntry:
    key: str
    kind: str
    name: str
    channel: str
    #: The agency's endpoint (webhook channel); None: not connected yet, referrals wait.
    webhook_url: str | None = None
    authority_id: str | None = None  # behoerdenkennung for XÖV-style file exchange
    #: The exchange folder (xml_file channel), absolute or under INTEGRA_HOME; None: the
    #: default ``var/exchange/<tenant>/<kind>``.
    exchange_folder: str | None = None


@dataclass(frozen=True)
class DatabaseEntry:
    name: str | None = None  # own database name instead of the derived one
    url: str | None = None  # own PostgreSQL server instead of INTEGRA_DATABASE_URL


@dataclass(frozen=True)
class BusEntry:
    #: The tenant's former vhost (a vhost per tenant), which ``integra bus migrate-topology``
    #: empties; the tenant's queues now live in the shared vhost (``INTEGRA_BROKER_VHOST``).
    vhost: str | None = None
    cluster: str = "default"


@dataclass(frozen=True)
class IdentityEntry:
    provider: str = "builtin"  # builtin | oidc
    issuer: str | None = None
    client_id: str | None = None


#: What the retention rule does with the personal data of a case closed long enough ago.
RETENTION_ACTIONS = ("delete", "anonymise")
DEFAULT_RETENTION_YEARS = 3
#: The Jobcenter's Kooperationsplan practice: a review at the latest six months after signing
#: or the last review. A tenant may ask for reviews sooner, never later.
DEFAULT_REVIEW_INTERVAL_MONTHS = 6
MAX_REVIEW_INTERVAL_MONTHS = 6


@dataclass(frozen=True)
class RetentionEntry:
    """Closed cases keep their personal data ``years`` after closing; then ``action``."""

    years: int = DEFAULT_RETENTION_YEARS
    action: str = "anonymise"


@dataclass(frozen=True)
class ReviewsEntry:
    """A signed agreement is due for review this many months after signing or its last review."""

    interval_months: int = DEFAULT_REVIEW_INTERVAL_MONTHS


@dataclass(frozen=True)
class Tenant:
    slug: str
    name: str
    federal_state: str
    kind: str
    offices: tuple[OfficeEntry, ...]
    partners: tuple[PartnerEntry, ...]
    database: DatabaseEntry
    bus: BusEntry
    identity: IdentityEntry
    enabled: bool = True
    retention: RetentionEntry = RetentionEntry()
    reviews: ReviewsEntry = ReviewsEntry()

    @property
    def vhost(self) -> str:
        """The former vhost of the tenant (see :class:`BusEntry`)."""
        return self.bus.vhost or f"integra.{self.slug}"

    def partner(self, kind: str) -> PartnerEntry | None:
        return next((p for p in self.partners if p.kind == kind), None)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _EntrySchema(_Strict):
    """A section of a tenant's registry file, loaded into its frozen ``entry`` type."""

    entry: ClassVar[Callable[..., Any]]

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Any:
        return self.entry(**data)


def _key() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(SLUG, error="must be a slug"))


class OfficeSchema(_EntrySchema):
    entry = OfficeEntry

    key = _key()
    name = fields.String(required=True, validate=validate.Length(min=3, max=200))
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    carrier = fields.String(required=True, validate=validate.Length(min=2, max=100))
    address = fields.String(required=True, validate=validate.Length(min=5, max=200))


class PartnerSchema(_EntrySchema):
    entry = PartnerEntry

    key = _key()
    kind = fields.String(required=True, validate=validate.OneOf(AGENCY_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=3, max=200))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    webhook_url = fields.Url(schemes={"http", "https"}, require_tld=False)
    authority_id = fields.String(validate=validate.Length(min=3, max=60))
    exchange_folder = fields.String(validate=validate.Length(min=1, max=500))

    @validates_schema
    def channel_settings(self, data: dict[str, Any], **_: Any) -> None:
        # A webhook partner without webhook_url is not connected yet: its referrals wait.
        channel = data.get("channel")
        if channel == "xml_file" and not data.get("authority_id"):
            raise ValidationError("required for the xml_file channel", "authority_id")
        if data.get("webhook_url") and channel != "webhook":
            raise ValidationError("only for the webhook channel", "webhook_url")
        if data.get("exchange_folder") and channel != "xml_file":
            raise ValidationError("only for the xml_file channel", "exchange_folder")


class DatabaseSchema(_EntrySchema):
    entry = DatabaseEntry

    name = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,62}$"))
    url = fields.String()


class BusSchema(_EntrySchema):
    entry = BusEntry

    vhost = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,100}$"))
    cluster = fields.String(load_default="default")


class IdentitySchema(_EntrySchema):
    entry = IdentityEntry

    provider = fields.String(load_default="builtin", validate=validate.OneOf(("builtin", "oidc")))
    issuer = fields.Url(require_tld=False)
    client_id = fields.String()

    @validates_schema
    def external(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("provider") == "oidc" and not (data.get("issuer") and data.get("client_id")):
            raise ValidationError("an external provider needs issuer and client_id", "issuer")


class RetentionSchema(_EntrySchema):
    entry = RetentionEntry

    years = fields.Integer(
        load_default=DEFAULT_RETENTION_YEARS,
        strict=True,
        validate=validate.Range(min=1, max=30),
    )
    action = fields.String(load_default="anonymise", validate=validate.OneOf(RETENTION_ACTIONS))


class ReviewsSchema(_EntrySchema):
    entry = ReviewsEntry

    interval_months = fields.Integer(
        load_default=DEFAULT_REVIEW_INTERVAL_MONTHS,
        strict=True,
        validate=validate.Range(min=1, max=MAX_REVIEW_INTERVAL_MONTHS),
    )


class TenantSchema(_Strict):
    slug = _key()
    name = fields.String(required=True, validate=validate.Length(min=3, max=200))
    federal_state = fields.String(required=True, validate=validate.OneOf(FEDERAL_STATES))
    kind = fields.String(required=True, validate=validate.OneOf(TENANT_KINDS))
    enabled = fields.Boolean(load_default=True)
    offices = fields.List(
        fields.Nested(OfficeSchema), required=True, validate=validate.Length(min=1)
    )
    partners = fields.List(fields.Nested(PartnerSchema), required=True)
    database = fields.Nested(DatabaseSchema, load_default=lambda: {})
    bus = fields.Nested(BusSchema, load_default=lambda: {})
    identity = fields.Nested(IdentitySchema, load_default=lambda: {})
    retention = fields.Nested(RetentionSchema, load_default=lambda: {})
    reviews = fields.Nested(ReviewsSchema, load_default=lambda: {})

    @validates_schema
    def unique_keys(self, data: dict[str, Any], **_: Any) -> None:
        for name in ("offices", "partners"):
            keys = [entry.key for entry in data.get(name, [])]
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise ValidationError(f"duplicate keys {dupes}", name)
        kinds = [p.kind for p in data.get("partners", [])]
        if len(kinds) != len(set(kinds)):
            raise ValidationError("at most one partner per agency kind", "partners")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Tenant:
        data["offices"] = tuple(data["offices"])
        data["partners"] = tuple(data["partners"])
        for key, default in (
            ("database", DatabaseEntry()),
            ("bus", BusEntry()),
            ("identity", IdentityEntry()),
            ("retention", RetentionEntry()),
            ("reviews", ReviewsEntry()),
        ):
            if isinstance(data.get(key), dict):
                data[key] = default
        return Tenant(**data)


def _flatten(messages: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        yield f"{prefix}: {'; '.join(messages)}"
    else:
        yield f"{prefix}: {messages}"


def load_tenant_file(path: Path) -> Tenant:
    """Load and validate one registry file; the error names the file and the field."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
    try:
        tenant: Tenant = TenantSchema().load(raw)
    except ValidationError as exc:
        details = "\n  ".join(_flatten(exc.messages))
        raise RegistryError(f"{path}: invalid tenant file:\n  {details}") from exc
    if tenant.slug != path.stem:
        raise RegistryError(f"{path}: slug: {tenant.slug!r} must equal the file name {path.stem!r}")
    return tenant


@dataclass(frozen=True)
class Registry:
    """All tenants of this installation, by slug, in a stable order."""

    tenants: Mapping[str, Tenant]

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.tenants.values())

    def __len__(self) -> int:
        return len(self.tenants)

    def get(self, slug: str) -> Tenant | None:
        return self.tenants.get(slug)

    def require(self, slug: str) -> Tenant:
        tenant = self.tenants.get(slug)
        if tenant is None:
            raise RegistryError(f"unknown tenant {slug!r}")
        return tenant

    def enabled(self) -> list[Tenant]:
        return [t for t in self.tenants.values() if t.enabled]


def load_registry(directory: Path) -> Registry:
    """Load every ``*.toml`` in ``directory``; all errors are reported together."""
    if not directory.is_dir():
        raise RegistryError(f"{directory}: tenant registry folder not found")
    tenants: dict[str, Tenant] = {}
    errors: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            tenant = load_tenant_file(path)
        except RegistryError as exc:
            errors.append(str(exc))
            continue
        tenants[tenant.slug] = tenant
    if errors:
        raise RegistryError("\n".join(errors))
    if not tenants:
        raise RegistryError(f"{directory}: no tenant files (*.toml)")
    return Registry(tenants)
