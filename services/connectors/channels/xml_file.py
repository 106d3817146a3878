"""The XML file channel: the connector's :class:`~.base.Channel` over an exchange folder.

Referrals are written as XÖV-style documents (:mod:`.xoev`) to the folder's ``outgoing/``; the
agency's answers are read from ``incoming/`` (:class:`~.exchange_folder.XmlFolderChannel`
keeps the folder's rules). A refused answer is answered with a return-to-sender document.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from messaging.contracts import REJECTION_CODES
from messaging.envelope import Envelope
from messaging.transports.base import Transport
from tenants.registry import PartnerEntry, Tenant
from tenants.settings import Settings

from .base import AgencyAnswer, DeliveryFailed
from .exchange_folder import Expected, XmlFolderChannel
from .xoev import Authority, XmlChannelError, rejection_envelope

__all__ = [
    "XmlFileChannel",
    "build_xml_file_channel",
    "exchange_dir",
    "integra_authority",
    "partner_authority",
]


def exchange_dir(settings: Settings, tenant: Tenant, partner: PartnerEntry) -> Path:
    """The exchange folder of a tenant's partner agency: the registry's ``exchange_folder``
    (relative to INTEGRA_HOME unless absolute), by default ``var/exchange/<tenant>/<kind>``."""
    if partner.exchange_folder:
        return Path(settings.home) / Path(partner.exchange_folder).expanduser()
    return Path(settings.var_dir) / "exchange" / tenant.slug / partner.kind


def integra_authority(tenant: Tenant) -> Authority:
    """Integra as the authority of a tenant's documents (``autor`` of what it writes)."""
    return Authority("integra", tenant.slug, f"Integra – {tenant.name}")


def partner_authority(partner: PartnerEntry) -> Authority:
    """The partner agency as an authority: its registry ``authority_id`` (``praefix:kennung``)."""
    praefix, _, kennung = (partner.authority_id or f"{partner.kind}:{partner.key}").partition(":")
    return Authority(praefix, kennung or partner.key, partner.name)


class XmlFileChannel:
    """The XML file exchange as a :class:`~services.connectors.channels.base.Channel`.

    ``tenant`` and ``own_party`` (the party the agency answers, normally ``agreements``) name
    the return-to-sender written for a file refused before its envelope could be read; the
    agency's party is then ``partner_party`` (the agency kind).
    """

    name = "xml_file"

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        tenant: str,
        partner_party: str,
        own_authority: Authority,
        partner_authority: Authority,
        own_party: str = "agreements",
        settle_seconds: float = 2.0,
    ) -> None:
        self.tenant = tenant
        self.own_party = own_party
        self.partner_party = partner_party
        self.folder = XmlFolderChannel(
            base_dir,
            own_authority=own_authority,
            partner_authority=partner_authority,
            settle_seconds=settle_seconds,
            on_reject=self._file_refused,
            expected=Expected(tenant=tenant, sender=partner_party, recipient=own_party),
        )

    def deliver(self, envelope: Envelope, signed: bytes | None = None) -> None:
        """Write the document to ``outgoing/``. ``signed`` is not carried: transport security
        of file exchange is the exchange folder's (OSCI/XTA in a real deployment)."""
        try:
            self.folder.deliver(envelope)
        except XmlChannelError as exc:
            raise DeliveryFailed(str(exc), retryable=False) from exc
        except OSError as exc:
            raise DeliveryFailed(f"exchange folder: {exc}", retryable=True) from exc

    def receive(self, limit: int = 100) -> list[AgencyAnswer]:
        answers = []
        for path, envelope in self.folder.poll()[:limit]:
            answers.append(
                AgencyAnswer(
                    message_id=envelope.id,
                    type=envelope.type,
                    version=envelope.version,
                    payload=dict(envelope.payload),
                    occurred_at=envelope.occurred_at,
                    correlation_id=envelope.correlation_id,
                    handle=(path, envelope),
                )
            )
        return answers

    def settle(self, answer: AgencyAnswer) -> None:
        path, _ = answer.handle
        self.folder.acknowledge(path)

    def refuse(self, answer: AgencyAnswer, reason_code: str, reason_text: str) -> None:
        """Return to sender (``outgoing/``), then set the file aside in ``rejected/``."""
        path, envelope = answer.handle
        self._return_to_sender(
            envelope.id,
            envelope.type,
            reason_code,
            reason_text,
            recipient=envelope.sender,
            correlation_id=envelope.correlation_id,
        )
        error: XmlChannelError | str = (
            XmlChannelError(reason_code, reason_text, message_id=envelope.id)
            if reason_code in REJECTION_CODES
            else f"{reason_code}: {reason_text}"
        )
        self.folder.reject(path, error)

    def close(self) -> None:
        pass

    def _file_refused(self, path: Path, error: XmlChannelError) -> None:
        if error.message_id is None:
            return  # nothing to name: the report in rejected/ is all there is
        self._return_to_sender(error.message_id, error.message_type, error.code, error.describe())

    def _return_to_sender(
        self,
        original_id: uuid.UUID,
        original_type: str | None,
        code: str,
        text: str,
        *,
        recipient: str | None = None,
        correlation_id: uuid.UUID | None = None,
    ) -> None:
        if code not in REJECTION_CODES:
            code = "handler_failed"
        notice = rejection_envelope(
            original_id,
            original_type,
            code,
            text,
            tenant=self.tenant,
            sender=self.own_party,
            recipient=recipient or self.partner_party,
            correlation_id=correlation_id,
        )
        self.folder.deliver(notice)


def build_xml_file_channel(
    transport: Transport, tenant: Tenant, partner: PartnerEntry
) -> XmlFileChannel:
    """The channel registered for ``xml_file`` partners (see :mod:`.registry`)."""
    return XmlFileChannel(
        exchange_dir(transport.settings, tenant, partner),
        tenant=tenant.slug,
        partner_party=partner.kind,
        own_authority=integra_authority(tenant),
        partner_authority=partner_authority(partner),
        settle_seconds=0.5,
    )
