"""Checking a partner agency without sending it case data (``integra partner check``).

Each channel has its own convention for "is the partner there, and do we trust each other":

* ``webhook``: an ``OPTIONS`` request to the agency's ``webhook_url`` carrying a signed probe
  (header ``X-Integra-Probe``: a compact JWS of ``{"type": "partner.probe", ...}``, signed with
  the tenant's bus key like every referral, no case data). The agency verifies it against the
  tenant's JWKS and answers 2xx; 401/403 means it does not accept our signature. Also checked:
  a public key of the agency is registered, or its answers could not be accepted.
* ``amqp``: the queue pair exists in the tenant's vhost and the connector's broker user may
  publish to the agency's exchange. On RabbitMQ the probe is published *mandatory* with a
  routing key bound to nothing: the broker checks the write permission and returns the
  message unrouted, so nothing reaches the agency's queue.
* ``xml_file``: the exchange folder and its ``outgoing/`` and ``incoming/`` exist and Integra
  may write there (a hidden file is created and removed at once).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import requests

from messaging.signing import BusKeyring, EnvelopeSigner
from messaging.topology import AgencyPair
from messaging.transports.base import Transport
from tenants.registry import PartnerEntry, Tenant

from .webhook import PROBE_HEADER, PROBE_TYPE, USER_AGENT
from .xml_file import exchange_dir


class ProbeOutcome(StrEnum):
    """How a check ended; each has its exit status for ``integra partner check``."""

    OK = "ok"  # reachable, and both sides can authenticate each other
    NOT_CONFIGURED = "not_configured"  # the registry or Integra's side lacks something
    UNREACHABLE = "unreachable"  # nobody answers (yet): network, broker, folder missing
    REFUSED = "refused"  # it answers, but refuses us (signature, permission) or cannot tell

    @property
    def exit_code(self) -> int:
        return PROBE_EXIT_CODES[self]


PROBE_EXIT_CODES = {
    ProbeOutcome.OK: 0,
    ProbeOutcome.NOT_CONFIGURED: 3,
    ProbeOutcome.UNREACHABLE: 4,
    ProbeOutcome.REFUSED: 5,
}


@dataclass(frozen=True)
class ProbeResult:
    outcome: ProbeOutcome
    detail: str
    notes: tuple[str, ...] = field(default=())


def probe_token(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> bytes:
    """A signed probe: who sends it, to whom, when; no case data."""
    signer = EnvelopeSigner(BusKeyring.load(transport.settings, tenant.slug))
    return signer.sign_data(
        {
            "id": str(uuid.uuid4()),
            "type": PROBE_TYPE,
            "tenant": tenant.slug,
            "sender": "integra",
            "recipient": partner.kind,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
    )


def probe_webhook(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> ProbeResult:
    from ..partner_keys import PartnerKeyError, load_partner_public_keys

    if not partner.webhook_url:
        return ProbeResult(
            ProbeOutcome.NOT_CONFIGURED,
            f"no webhook_url for {partner.key} in the registry file of {tenant.slug}",
        )
    notes = []
    try:
        kids = [
            key.kid
            for key in load_partner_public_keys(transport.settings, tenant.slug, partner.kind).keys
        ]
        notes.append(f"agency key registered: {', '.join(str(k) for k in kids)}")
    except PartnerKeyError as exc:
        return ProbeResult(
            ProbeOutcome.NOT_CONFIGURED,
            f"no key of the agency registered, its answers would be refused ({exc}); "
            f"register it: integra partner key register {tenant.slug} {partner.kind} FILE",
        )
    if not partner.webhook_url.startswith("https://"):
        notes.append("webhook_url is not https: only acceptable on a private network or a demo")
    headers = {
        PROBE_HEADER: probe_token(transport, tenant, partner).decode("ascii"),
        "X-Integra-Tenant": tenant.slug,
        "X-Integra-Type": PROBE_TYPE,
        "User-Agent": USER_AGENT,
    }
    try:
        response = requests.options(
            partner.webhook_url, headers=headers, timeout=(5, 5), allow_redirects=False
        )
    except requests.RequestException as exc:
        return ProbeResult(ProbeOutcome.UNREACHABLE, f"{partner.webhook_url}: {exc}", tuple(notes))
    status = response.status_code
    response.close()
    where = f"OPTIONS {partner.webhook_url} → HTTP {status}"
    if 200 <= status < 300:
        return ProbeResult(
            ProbeOutcome.OK, f"{where}: the agency accepts our signature", tuple(notes)
        )
    if status in (401, 403):
        return ProbeResult(
            ProbeOutcome.REFUSED,
            f"{where}: the agency does not accept our signature; give it the tenant's JWKS "
            f"(integra partner jwks {tenant.slug})",
            tuple(notes),
        )
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        return ProbeResult(
            ProbeOutcome.NOT_CONFIGURED,
            f"{where}: redirects to {location}; fix webhook_url",
            tuple(notes),
        )
    if status >= 500 or status in (408, 429):
        return ProbeResult(
            ProbeOutcome.UNREACHABLE,
            f"{where}: the agency's system is not answering properly",
            tuple(notes),
        )
    return ProbeResult(
        ProbeOutcome.REFUSED,
        f"{where}: reachable, but the endpoint does not answer the signed probe, so "
        "authentication is not confirmed (docs/partners.md, 'Checking the connection')",
        tuple(notes),
    )


def probe_amqp(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> ProbeResult:
    import amqp.exceptions
    from kombu.exceptions import OperationalError

    pair = AgencyPair(partner.kind, tenant.slug)
    vhost = transport.settings.broker_vhost
    try:
        url = transport.url(tenant, partner.kind)
    except Exception as exc:  # no credentials: the tenant's bus is not provisioned
        return ProbeResult(ProbeOutcome.NOT_CONFIGURED, f"connector's broker user: {exc}")
    connection = transport.kombu_connection(url)
    notes = []
    try:
        try:
            connection.ensure_connection(max_retries=1)
        except amqp.exceptions.AccessRefused as exc:  # a wrong password, or no such vhost
            return ProbeResult(ProbeOutcome.REFUSED, f"broker refused the login: {exc}")
        except (OperationalError, OSError) as exc:
            return ProbeResult(ProbeOutcome.UNREACHABLE, f"broker of vhost {vhost}: {exc}")
        channel = connection.channel()
        for queue in (pair.referrals, pair.answers):
            try:
                _, messages, consumers = channel.queue_declare(queue=queue, passive=True)
            except Exception as exc:
                return ProbeResult(
                    ProbeOutcome.NOT_CONFIGURED,
                    f"queue {queue} missing in {vhost}: {exc}; run integra migrate {tenant.slug}",
                )
            notes.append(f"{queue}: {messages} waiting, {consumers} consumers")
        if transport.clients_declare:  # the embedded bus: one file, no users to check
            return ProbeResult(
                ProbeOutcome.OK, f"queue pair of {partner.kind} in the embedded bus", tuple(notes)
            )
        message = amqp.Message(b"", content_type="application/json", type=PROBE_TYPE)
        try:
            channel.basic_publish(
                message,
                exchange=pair.to_agency,
                routing_key=f"{tenant.slug}.probe.{uuid.uuid4()}",  # within its topic permission
                mandatory=True,
            )
        except amqp.exceptions.AccessRefused as exc:
            return ProbeResult(
                ProbeOutcome.REFUSED, f"may not publish to {pair.to_agency}: {exc}", tuple(notes)
            )
        except amqp.exceptions.NotFound as exc:
            return ProbeResult(
                ProbeOutcome.NOT_CONFIGURED, f"exchange {pair.to_agency}: {exc}", tuple(notes)
            )
        except amqp.exceptions.ChannelError as exc:
            if getattr(exc, "reply_code", None) != 312:  # 312 NO_ROUTE: allowed, not delivered
                return ProbeResult(ProbeOutcome.REFUSED, f"publishing refused: {exc}", tuple(notes))
        return ProbeResult(
            ProbeOutcome.OK,
            f"queue pair of {partner.kind} in vhost {vhost}; the connector may publish "
            f"to {pair.to_agency} (probe returned unrouted, nothing delivered)",
            tuple(notes),
        )
    finally:
        connection.release()


def probe_xml_file(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> ProbeResult:
    base = exchange_dir(transport.settings, tenant, partner)
    for folder in (base, base / "outgoing", base / "incoming"):
        if not folder.is_dir():
            return ProbeResult(
                ProbeOutcome.UNREACHABLE,
                f"exchange folder {folder} does not "
                "exist (mounted? created by the first integra up)",
            )
    outgoing = base / "outgoing"
    test_file = outgoing / f".integra-probe-{uuid.uuid4().hex}.tmp"  # never read (*.tmp)
    try:
        test_file.write_bytes(b"")
        test_file.unlink()
    except OSError as exc:
        return ProbeResult(ProbeOutcome.REFUSED, f"cannot write to {outgoing}: {exc.strerror}")
    if not os.access(base / "incoming", os.R_OK | os.W_OK | os.X_OK):
        return ProbeResult(
            ProbeOutcome.REFUSED, f"cannot read and move files in {base / 'incoming'}"
        )
    waiting = _count(outgoing, "*.xml")
    answers = _count(base / "incoming", "*.xml")
    return ProbeResult(
        ProbeOutcome.OK,
        f"exchange folder {base} is writable",
        (
            f"outgoing: {waiting} files the agency has not taken yet",
            f"incoming: {answers} answers not yet read",
        ),
    )


def _count(folder: Path, pattern: str) -> int:
    return sum(1 for _ in folder.glob(pattern))


def describe(result: ProbeResult) -> str:
    """The result as an operator reads it (and as ``--json`` prints it)."""
    return json.dumps(
        {"outcome": str(result.outcome), "detail": result.detail, "notes": list(result.notes)},
        ensure_ascii=False,
    )
