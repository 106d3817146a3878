"""The simulated agency on the XML file channel: its case software importing the documents
the connector writes to the exchange folder, and exporting its answers as documents."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from datetime import datetime
from pathlib import Path

from messaging.envelope import Envelope
from tenants.registry import PartnerEntry

from ..channels.xml_file import exchange_dir, integra_authority, partner_authority
from ..channels.xoev import Authority, envelope_to_xml, xml_to_envelope
from ..simulators import SimulatedAgency
from .base import SimulationSite

log = logging.getLogger(__name__)


class XmlAgencyAdapter:
    """The simulated agency's case software importing and exporting XML files."""

    endpoint = None

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        agency: SimulatedAgency,
        *,
        partner: PartnerEntry,
        tenant: str,
        own_authority: Authority,
        integra_authority: Authority,
    ) -> None:
        self.base = Path(base_dir)
        self.agency = agency
        self.partner = partner
        self.tenant = tenant
        self.own_authority = own_authority
        self.integra_authority = integra_authority
        self.consents: dict[str, str] = {}
        self.stop_event = threading.Event()

    def pump(self) -> int:
        moved = 0
        outgoing = self.base / "outgoing"
        imported = self.base / "agency-imported"
        imported.mkdir(parents=True, exist_ok=True)
        for path in sorted(outgoing.glob("*.xml")) if outgoing.exists() else []:
            try:
                envelope = xml_to_envelope(path.read_bytes())
            except Exception:
                log.exception("simulated %s could not import %s", self.agency.kind, path.name)
                os.replace(path, imported / (path.name + ".unreadable"))
                continue
            if envelope.type == "referral.requested" and envelope.consent_id:
                self.consents[str(envelope.correlation_id)] = str(envelope.consent_id)
            self.agency.on_message(envelope.to_dict())
            os.replace(path, imported / path.name)
            moved += 1
        incoming = self.base / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        for answer in self.agency.due_answers():
            correlation = answer.get("correlation_id") or answer["id"]
            consent = self.consents.get(str(correlation))
            if answer["type"] == "course_obligation.imposed":
                consent = answer["id"]
            envelope = Envelope(
                id=uuid.UUID(answer["id"]),
                type=answer["type"],
                version=1,
                tenant=self.tenant,
                sender=self.agency.kind,
                recipient="agreements",
                correlation_id=uuid.UUID(str(correlation)),
                occurred_at=datetime.fromisoformat(answer["occurred_at"]),
                consent_id=uuid.UUID(consent) if consent else None,
                payload=answer["payload"],
            )
            data = envelope_to_xml(
                envelope,
                sender_authority=self.own_authority,
                recipient_authority=self.integra_authority,
            )
            tmp = incoming / f".{answer['id']}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, incoming / f"{answer['id']}.xml")
            moved += 1
        return moved

    def run(self, interval: float = 0.25) -> None:
        while not self.stop_event.is_set():
            try:
                busy = self.pump()
            except Exception:
                log.exception("simulated %s: pass failed", self.agency.kind)
                busy = 0
            if not busy:
                self.stop_event.wait(interval)

    def pump_once(self) -> int:
        """One pass (a job of the shared pool)."""
        return self.pump()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"sim-xml-{self.agency.kind}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()


def simulate_on_xml_file(site: SimulationSite, agency: SimulatedAgency) -> XmlAgencyAdapter:
    """The adapter registered for ``xml_file`` partners: the other side of the exchange folder."""
    return XmlAgencyAdapter(
        exchange_dir(site.settings, site.tenant, site.partner),
        agency,
        partner=site.partner,
        tenant=site.tenant.slug,
        own_authority=partner_authority(site.partner),
        integra_authority=integra_authority(site.tenant),
    )
