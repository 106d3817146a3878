"""One message as one XÖV-style XML document, and back: the envelope ↔ document mapping.

::

    <integra:referral.Requested.0101 xmlns:integra="urn:integra:xoev:1" standard="Integra"
        version="1.0" produkt="Integra" produkthersteller="Integra-Projekt">
      <nachrichtenkopf>…</nachrichtenkopf>           <!-- see .header -->
      <nachrichteninhalt>
        <umschlag>mandant, absender, empfaenger, korrelationsUUID, verursachungsUUID?,
                  einwilligungsUUID?</umschlag>
        <referral_id>…</referral_id> …                  <!-- the payload, see .payload -->
      </nachrichteninhalt>
    </integra:referral.Requested.0101>

Every document written or read is validated against the shipped XSD and the envelope against
its contract; reading is hardened (:mod:`.reading`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from messaging.contracts import CONTRACTS, ContractError, load_envelope, load_payload
from messaging.envelope import Envelope

from .elements import child_elements, sub_element
from .errors import XmlChannelError, header_id, refusal_at
from .header import Authority, read_header, write_header
from .payload import read_payload, write_payload
from .reading import parse, validate
from .vocabulary import (
    MESSAGES,
    MESSAGES_BY_ROOT,
    NAMESPACE,
    PREFIX,
    PRODUKT,
    PRODUKTHERSTELLER,
    STANDARD,
    STANDARD_VERSION,
    XSI,
    MessageDef,
)


@dataclass(frozen=True)
class XoevMessage:
    """A document read: the envelope and the authorities of its header."""

    envelope: Envelope
    author: Authority
    reader: Authority


def _message_def(envelope: Envelope) -> MessageDef:
    m = MESSAGES.get((envelope.type, envelope.version))
    if m is None:
        raise XmlChannelError(
            "unknown_type",
            f"{envelope.type} v{envelope.version} has no XML message",
            message_id=envelope.id,
            message_type=envelope.type,
        )
    return m


def envelope_to_xml(
    envelope: Envelope, *, sender_authority: Authority, recipient_authority: Authority
) -> bytes:
    """The XML document of an envelope, validated against its contract and the XSD.

    ``sender_authority`` is the ``autor``, ``recipient_authority`` the ``leser``. The output is
    deterministic: the same envelope and authorities give the same bytes.
    """
    m = _message_def(envelope)
    try:
        load_envelope(envelope.to_dict())
    except ContractError as exc:
        raise XmlChannelError(
            exc.code, f"envelope breaks its contract: {exc.detail}", message_id=envelope.id
        ) from exc
    try:
        root = etree.Element(
            f"{{{NAMESPACE}}}{m.root}",
            nsmap={PREFIX: NAMESPACE, "xsi": XSI},
            standard=STANDARD,
            version=STANDARD_VERSION,
            produkt=PRODUKT,
            produkthersteller=PRODUKTHERSTELLER,
        )
        write_header(
            root,
            m,
            message_id=envelope.id,
            created_at=envelope.occurred_at,
            author=sender_authority,
            reader=recipient_authority,
        )
        inhalt = sub_element(root, "nachrichteninhalt")
        umschlag = sub_element(inhalt, "umschlag")
        sub_element(umschlag, "mandant", envelope.tenant)
        sub_element(umschlag, "absender", envelope.sender)
        sub_element(umschlag, "empfaenger", envelope.recipient)
        sub_element(umschlag, "korrelationsUUID", str(envelope.correlation_id))
        if envelope.causation_id is not None:
            sub_element(umschlag, "verursachungsUUID", str(envelope.causation_id))
        if envelope.consent_id is not None:
            sub_element(umschlag, "einwilligungsUUID", str(envelope.consent_id))
        write_payload(inhalt, CONTRACTS[(m.message_type, m.version)](), envelope.payload)
    except ValueError as exc:  # lxml: text XML 1.0 cannot carry (control characters)
        raise XmlChannelError("schema_invalid", str(exc), message_id=envelope.id) from exc

    doc = etree.ElementTree(root)
    validate(doc)
    etree.indent(root, space="  ")
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8")) + b"\n"


def _opt_uuid(el: etree._Element, path: str) -> uuid.UUID | None:
    text = el.findtext(path)
    return uuid.UUID(text) if text else None


def read_document(data: bytes) -> XoevMessage:
    """Parse, validate and translate one document; :class:`XmlChannelError` if it is refused.

    Checks, in order: size, well-formedness (no DTD), a known root element, the XSD, the header's
    message type against the root, then the envelope and payload against the contract
    (``load_envelope`` / ``load_payload``).
    """
    doc = parse(data)
    root = doc.getroot()
    qname = etree.QName(root)
    m = MESSAGES_BY_ROOT.get(qname.localname) if qname.namespace == NAMESPACE else None
    if m is None:
        raise XmlChannelError(
            "unknown_type",
            f"unknown root element {root.tag!r}",
            line=root.sourceline,
            element=f"/{root.tag}",
            message_id=header_id(root),
        )
    validate(doc)

    header = read_header(root, m)
    inhalt = root.find("nachrichteninhalt")
    assert inhalt is not None  # the XSD requires it
    umschlag = inhalt.find("umschlag")
    assert umschlag is not None
    # The payload fields are the children after umschlag.
    schema = CONTRACTS[(m.message_type, m.version)]()
    payload = read_payload(child_elements(inhalt)[1:], schema)

    try:
        envelope = Envelope(
            id=uuid.UUID(header.message_id),
            type=m.message_type,
            version=m.version,
            tenant=umschlag.findtext("mandant") or "",
            sender=umschlag.findtext("absender") or "",
            recipient=umschlag.findtext("empfaenger") or "",
            correlation_id=uuid.UUID(umschlag.findtext("korrelationsUUID") or ""),
            causation_id=_opt_uuid(umschlag, "verursachungsUUID"),
            consent_id=_opt_uuid(umschlag, "einwilligungsUUID"),
            occurred_at=datetime.fromisoformat(header.created_at),
            payload=payload,
        )
    except ValueError as exc:
        raise refusal_at(root, f"header: {exc}", "malformed") from exc
    try:
        load_envelope(envelope.to_dict())
        load_payload(envelope)
    except ContractError as exc:
        raise XmlChannelError(
            exc.code,
            f"breaks the contract of {m.message_type} v{m.version}: {exc.detail}",
            element=doc.getpath(inhalt),
            message_id=envelope.id,
            message_type=envelope.type,
        ) from exc
    return XoevMessage(envelope=envelope, author=header.author, reader=header.reader)


def xml_to_envelope(data: bytes) -> Envelope:
    """The envelope of one document (see :func:`read_document`)."""
    return read_document(data).envelope
