"""Translation between the canonical :class:`~messaging.envelope.Envelope` and XÖV-style XML.

One XML document per message (see ``shared/FACTS.md``, "XÖV messages")::

    <integra:referral.Requested.0101 xmlns:integra="urn:integra:xoev:1" standard="Integra"
        version="1.0" produkt="Integra" produkthersteller="Integra-Projekt">
      <nachrichtenkopf>
        <identifikation.nachricht>
          <nachrichtenUUID>…</nachrichtenUUID>          <!-- Envelope.id -->
          <nachrichtentyp listURI="urn:integra:xoev:codeliste:nachrichtentyp" listVersionID="1.0">
            <code>0101</code><name>referral.requested</name>
          </nachrichtentyp>
          <erstellungszeitpunkt>…</erstellungszeitpunkt>  <!-- Envelope.occurred_at -->
        </identifikation.nachricht>
        <leser>…</leser>  <autor>…</autor>             <!-- behoerdenkennung, behoerdenname -->
      </nachrichtenkopf>
      <nachrichteninhalt>
        <umschlag>mandant, absender, empfaenger, korrelationsUUID, verursachungsUUID?,
                  einwilligungsUUID?</umschlag>
        <referral_id>…</referral_id> …                  <!-- the contract's payload fields -->
      </nachrichteninhalt>
    </integra:referral.Requested.0101>

Payload fields become elements named like the contract's fields, in the contract's order; list
items are ``eintrag`` elements; ``None`` is ``xsi:nil="true"``; the contracts' free-form
categories (``Dict`` fields) are typed ``eintrag`` trees (``schluessel``, ``typ``), so every JSON
value round-trips exactly. The technical rejection ``message.rejected`` travels as
``administration.ReturnToSender.0901`` (style of XInneres' Administration.ReturnToSender).

Every document written or read is validated against the shipped XSD. Reading is hardened: a
size limit; an expat pre-pass refuses any DOCTYPE before anything is declared, expanded or
loaded; libxml2 then parses with entity resolution, DTD loading and network access off.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from xml.parsers import expat

from lxml import etree
from marshmallow import Schema, fields

from messaging.contracts import (
    CONTRACTS,
    REJECTION_CODES,
    ContractError,
    dump_payload,
    load_envelope,
    load_payload,
)
from messaging.envelope import Envelope

from .xoev_schema import (
    ITEM,
    MESSAGE_TYPE_LIST_URI,
    MESSAGE_TYPE_LIST_VERSION,
    MESSAGES,
    MESSAGES_BY_ROOT,
    NAMESPACE,
    PREFIX,
    PRODUKT,
    PRODUKTHERSTELLER,
    STANDARD,
    STANDARD_VERSION,
    XSD_PATH,
    XSI,
    XSI_NIL,
    MessageDef,
    field_kind,
    field_tag,
    nested_schema,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Authority",
    "XmlChannelError",
    "XoevMessage",
    "envelope_to_xml",
    "read_document",
    "rejection_envelope",
    "return_to_sender",
    "xml_to_envelope",
]

#: Larger documents are refused unread (``oversized``).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Authority:
    """An authority as XÖV names it: ``behoerdenkennung`` (praefix, kennung) and its name."""

    praefix: str
    kennung: str
    name: str


@dataclass(frozen=True)
class XoevMessage:
    """A document read: the envelope and the authorities of its header."""

    envelope: Envelope
    author: Authority
    reader: Authority


class XmlChannelError(Exception):
    """A document that cannot be written or accepted.

    ``code`` is one of :data:`messaging.contracts.REJECTION_CODES`; ``line`` and ``element`` say
    where (when known); ``message_id`` and ``message_type`` are read from the header when it could
    be read, so that a :func:`return_to_sender` can name the message. ``syntax_error``: the
    bytes are not well-formed XML (perhaps a file still being written).
    """

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        line: int | None = None,
        element: str | None = None,
        message_id: uuid.UUID | None = None,
        message_type: str | None = None,
        syntax_error: bool = False,
    ) -> None:
        if code not in REJECTION_CODES:
            raise ValueError(f"unknown rejection code {code!r}")
        self.code = code
        self.reason = reason
        self.line = line
        self.element = element
        self.message_id = message_id
        self.message_type = message_type
        #: Not well-formed XML (perhaps a file still being written).
        self.syntax_error = syntax_error
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.element:
            where.append(f"element {self.element}")
        suffix = f" ({', '.join(where)})" if where else ""
        return f"{self.code}: {self.reason}{suffix}"


# --- schema ----------------------------------------------------------------------------------


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


@cache
def xml_schema() -> etree.XMLSchema:
    """The shipped XSD, loaded once."""
    return etree.XMLSchema(etree.parse(str(XSD_PATH), _safe_parser()))


def _validate(doc: etree._ElementTree) -> None:
    schema = xml_schema()
    if schema.validate(doc):
        return
    err = schema.error_log[0]
    raise XmlChannelError(
        "schema_invalid",
        f"XSD: {err.message}",
        line=err.line or None,
        element=err.path or None,
        message_id=_header_id(doc.getroot()),
        message_type=_root_type(doc.getroot()),
    )


# --- writing ---------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _authority(parent: etree._Element, tag: str, authority: Authority) -> None:
    el = _sub(parent, tag)
    kennung = _sub(el, "behoerdenkennung")
    _sub(kennung, "praefix", authority.praefix)
    _sub(kennung, "kennung", authority.kennung)
    _sub(el, "behoerdenname", authority.name)


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


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _emit_object(parent: etree._Element, schema: Schema, data: Mapping[str, Any]) -> None:
    by_tag = {field_tag(name, f): f for name, f in schema.fields.items()}
    unknown = set(data) - set(by_tag)
    if unknown:
        raise XmlChannelError("schema_invalid", f"unknown fields {sorted(unknown)}")
    for tag, field in by_tag.items():
        if tag in data:
            _emit_value(parent, tag, field, data[tag])


def _emit_value(parent: etree._Element, tag: str, field: fields.Field, value: Any) -> None:
    el = _sub(parent, tag)
    if value is None:
        el.set(XSI_NIL, "true")
        return
    kind = field_kind(field)
    if kind in ("uuid", "date", "datetime", "string"):
        if not isinstance(value, str):
            raise XmlChannelError(
                "schema_invalid", f"{tag}: payload must be in wire (JSON) form, got {type(value)}"
            )
        el.text = value
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise XmlChannelError("schema_invalid", f"{tag}: not an integer")
        el.text = str(value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise XmlChannelError("schema_invalid", f"{tag}: not a boolean")
        el.text = "true" if value else "false"
    elif kind == "nested":
        assert isinstance(field, fields.Nested)
        _emit_object(el, nested_schema(field), value)
    elif kind == "list":
        assert isinstance(field, fields.List)
        for item in value:
            _emit_value(el, ITEM, field.inner, item)
    elif kind == "json":
        if not isinstance(value, Mapping):
            raise XmlChannelError("schema_invalid", f"{tag}: not an object")
        for key, item in value.items():
            _emit_json(el, item, key=key)


def _emit_json(parent: etree._Element, value: Any, *, key: str | None = None) -> None:
    el = _sub(parent, ITEM)
    if key is not None:
        el.set("schluessel", str(key))
    if value is None:
        el.set("typ", "null")
    elif isinstance(value, bool):
        el.set("typ", "wahrheitswert")
        el.text = "true" if value else "false"
    elif isinstance(value, int):
        el.set("typ", "ganzzahl")
        el.text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise XmlChannelError("schema_invalid", "non-finite number in free-form data")
        el.set("typ", "dezimalzahl")
        el.text = repr(value)
    elif isinstance(value, str):
        el.set("typ", "zeichenkette")
        el.text = value
    elif isinstance(value, Mapping):
        el.set("typ", "objekt")
        for k, v in value.items():
            _emit_json(el, v, key=k)
    elif isinstance(value, list | tuple):
        el.set("typ", "liste")
        for v in value:
            _emit_json(el, v)
    else:
        raise XmlChannelError("schema_invalid", f"free-form value of type {type(value).__name__}")


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
        kopf = _sub(root, "nachrichtenkopf")
        ident = _sub(kopf, "identifikation.nachricht")
        _sub(ident, "nachrichtenUUID", str(envelope.id))
        typ = _sub(ident, "nachrichtentyp")
        typ.set("listURI", MESSAGE_TYPE_LIST_URI)
        typ.set("listVersionID", MESSAGE_TYPE_LIST_VERSION)
        _sub(typ, "code", m.number)
        _sub(typ, "name", m.message_type)
        _sub(ident, "erstellungszeitpunkt", _timestamp(envelope.occurred_at))
        _authority(kopf, "leser", recipient_authority)
        _authority(kopf, "autor", sender_authority)

        inhalt = _sub(root, "nachrichteninhalt")
        umschlag = _sub(inhalt, "umschlag")
        _sub(umschlag, "mandant", envelope.tenant)
        _sub(umschlag, "absender", envelope.sender)
        _sub(umschlag, "empfaenger", envelope.recipient)
        _sub(umschlag, "korrelationsUUID", str(envelope.correlation_id))
        if envelope.causation_id is not None:
            _sub(umschlag, "verursachungsUUID", str(envelope.causation_id))
        if envelope.consent_id is not None:
            _sub(umschlag, "einwilligungsUUID", str(envelope.consent_id))
        _emit_object(inhalt, CONTRACTS[(m.message_type, m.version)](), envelope.payload)
    except ValueError as exc:  # lxml: text XML 1.0 cannot carry (control characters)
        raise XmlChannelError("schema_invalid", str(exc), message_id=envelope.id) from exc

    doc = etree.ElementTree(root)
    _validate(doc)
    etree.indent(root, space="  ")
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="UTF-8")) + b"\n"


# --- reading ---------------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _root_type(root: etree._Element) -> str | None:
    m = MESSAGES_BY_ROOT.get(_local(root)) if etree.QName(root).namespace == NAMESPACE else None
    return m.message_type if m else None


def _header_id(root: etree._Element) -> uuid.UUID | None:
    text = root.findtext("nachrichtenkopf/identifikation.nachricht/nachrichtenUUID")
    try:
        return uuid.UUID(text.strip()) if text else None
    except ValueError:
        return None


class _DtdFound(Exception):
    pass


def _refuse_dtd(data: bytes) -> None:
    """Refuse any DOCTYPE before libxml2 sees the document (as defusedxml's ``forbid_dtd``).

    Expat stops at the start of the DOCTYPE: no entity is declared, expanded or fetched, no
    external subset is opened. Also reports documents that are not well-formed.
    """
    parser = expat.ParserCreate()

    def refuse(*_: Any) -> Any:
        raise _DtdFound

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(data, True)
    except _DtdFound:
        raise XmlChannelError(
            "malformed", "a DOCTYPE / DTD is not allowed", line=parser.CurrentLineNumber
        ) from None
    except expat.ExpatError as exc:
        raise XmlChannelError(
            "malformed",
            f"not well-formed XML: {expat.errors.messages[exc.code]}",
            line=exc.lineno,
            syntax_error=True,
        ) from None


def _parse(data: bytes) -> etree._ElementTree:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise XmlChannelError("oversized", f"{len(data)} bytes, at most {MAX_DOCUMENT_BYTES}")
    _refuse_dtd(data)
    try:
        doc = etree.ElementTree(etree.fromstring(data, _safe_parser()))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise XmlChannelError(
            "malformed", f"not well-formed XML: {exc.msg}", line=line, syntax_error=True
        ) from exc
    if doc.docinfo.doctype or doc.docinfo.internalDTD is not None:  # defence in depth
        raise XmlChannelError("malformed", "a DOCTYPE / DTD is not allowed", line=1)
    return doc


def _fail(el: etree._Element, reason: str, code: str = "schema_invalid") -> XmlChannelError:
    tree = el.getroottree()
    root = tree.getroot()
    return XmlChannelError(
        code,
        reason,
        line=el.sourceline,
        element=tree.getpath(el),
        message_id=_header_id(root),
        message_type=_root_type(root),
    )


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _is_nil(el: etree._Element) -> bool:
    return el.get(XSI_NIL) in ("true", "1")


def _text(el: etree._Element) -> str:
    if _children(el):
        raise _fail(el, "a value element must not contain elements")
    return el.text or ""


def _read_object(el: etree._Element, schema: Schema) -> dict[str, Any]:
    by_tag = {field_tag(name, f): f for name, f in schema.fields.items()}
    out: dict[str, Any] = {}
    for child in _children(el):
        tag = _local(child)
        field = by_tag.get(tag)
        if field is None or etree.QName(child).namespace is not None:
            raise _fail(child, f"unknown element {tag!r}")
        if tag in out:
            raise _fail(child, f"element {tag!r} twice")
        out[tag] = _read_value(child, field)
    return out


def _read_value(el: etree._Element, field: fields.Field) -> Any:
    if _is_nil(el):
        if _children(el) or (el.text or "").strip():
            raise _fail(el, "a nil element must be empty")
        return None
    kind = field_kind(field)
    if kind in ("uuid", "date", "datetime", "string"):
        return _text(el)
    if kind == "integer":
        try:
            return int(_text(el))
        except ValueError:
            raise _fail(el, "not an integer") from None
    if kind == "boolean":
        text = _text(el).strip()
        if text not in ("true", "false"):
            raise _fail(el, "a boolean is true or false")
        return text == "true"
    if kind == "nested":
        assert isinstance(field, fields.Nested)
        return _read_object(el, nested_schema(field))
    if kind == "list":
        assert isinstance(field, fields.List)
        items = []
        for child in _children(el):
            if _local(child) != ITEM:
                raise _fail(child, f"a list holds {ITEM} elements")
            items.append(_read_value(child, field.inner))
        return items
    # json: a free-form object
    return _read_json_members(el)


def _read_json_members(el: etree._Element) -> dict[str, Any]:
    if (el.text or "").strip():
        raise _fail(el, "an object holds entries, not text")
    out: dict[str, Any] = {}
    for child in _children(el):
        key = child.get("schluessel")
        if key is None:
            raise _fail(child, "an object entry needs a schluessel")
        if key in out:
            raise _fail(child, f"key {key!r} twice")
        out[key] = _read_json(child)
    return out


def _read_json(el: etree._Element) -> Any:
    typ = el.get("typ")
    if typ == "objekt":
        return _read_json_members(el)
    if typ == "liste":
        if (el.text or "").strip():
            raise _fail(el, "a list holds entries, not text")
        items = []
        for child in _children(el):
            if child.get("schluessel") is not None:
                raise _fail(child, "a list entry has no schluessel")
            items.append(_read_json(child))
        return items
    text = _text(el)
    if typ == "null":
        if text:
            raise _fail(el, "null has no text")
        return None
    if typ == "zeichenkette":
        return text
    if typ == "wahrheitswert" and text in ("true", "false"):
        return text == "true"
    try:
        if typ == "ganzzahl":
            return int(text)
        if typ == "dezimalzahl":
            number = float(text)
            if math.isfinite(number):
                return number
    except ValueError:
        pass
    raise _fail(el, f"not a value of typ {typ!r}: {text!r}")


def _read_authority(el: etree._Element) -> Authority:
    return Authority(
        praefix=el.findtext("behoerdenkennung/praefix") or "",
        kennung=el.findtext("behoerdenkennung/kennung") or "",
        name=el.findtext("behoerdenname") or "",
    )


def _opt_uuid(el: etree._Element, path: str) -> uuid.UUID | None:
    text = el.findtext(path)
    return uuid.UUID(text) if text else None


def read_document(data: bytes) -> XoevMessage:
    """Parse, validate and translate one document; :class:`XmlChannelError` if it is refused.

    Checks, in order: size, well-formedness (no DTD), a known root element, the XSD, the header's
    message type against the root, then the envelope and payload against the contract
    (``load_envelope`` / ``load_payload``).
    """
    doc = _parse(data)
    root = doc.getroot()
    qname = etree.QName(root)
    m = MESSAGES_BY_ROOT.get(qname.localname) if qname.namespace == NAMESPACE else None
    if m is None:
        raise XmlChannelError(
            "unknown_type",
            f"unknown root element {root.tag!r}",
            line=root.sourceline,
            element=f"/{root.tag}",
            message_id=_header_id(root),
        )
    _validate(doc)

    ident = root.find("nachrichtenkopf/identifikation.nachricht")
    assert ident is not None  # the XSD requires it
    typ = ident.find("nachrichtentyp")
    assert typ is not None
    if typ.findtext("code") != m.number or typ.findtext("name") != m.message_type:
        raise _fail(typ, f"nachrichtentyp does not match the root element {m.root}")
    kopf = root.find("nachrichtenkopf")
    inhalt = root.find("nachrichteninhalt")
    assert kopf is not None and inhalt is not None
    leser, autor = kopf.find("leser"), kopf.find("autor")
    umschlag = inhalt.find("umschlag")
    assert leser is not None and autor is not None and umschlag is not None

    schema = CONTRACTS[(m.message_type, m.version)]()
    # The payload fields are the children after umschlag.
    by_tag = {field_tag(name, f): f for name, f in schema.fields.items()}
    payload: dict[str, Any] = {}
    for child in _children(inhalt)[1:]:
        tag = _local(child)
        if tag not in by_tag or tag in payload:
            raise _fail(child, f"unexpected element {tag!r}")
        payload[tag] = _read_value(child, by_tag[tag])

    try:
        envelope = Envelope(
            id=uuid.UUID(ident.findtext("nachrichtenUUID") or ""),
            type=m.message_type,
            version=m.version,
            tenant=umschlag.findtext("mandant") or "",
            sender=umschlag.findtext("absender") or "",
            recipient=umschlag.findtext("empfaenger") or "",
            correlation_id=uuid.UUID(umschlag.findtext("korrelationsUUID") or ""),
            causation_id=_opt_uuid(umschlag, "verursachungsUUID"),
            consent_id=_opt_uuid(umschlag, "einwilligungsUUID"),
            occurred_at=datetime.fromisoformat(ident.findtext("erstellungszeitpunkt") or ""),
            payload=payload,
        )
    except ValueError as exc:
        raise _fail(root, f"header: {exc}", "malformed") from exc
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
    return XoevMessage(
        envelope=envelope, author=_read_authority(autor), reader=_read_authority(leser)
    )


def xml_to_envelope(data: bytes) -> Envelope:
    """The envelope of one document (see :func:`read_document`)."""
    return read_document(data).envelope


# --- technical rejection ---------------------------------------------------------------------


def rejection_envelope(
    original_id: uuid.UUID,
    original_type: str | None,
    reason_code: str,
    reason_text: str | None,
    *,
    tenant: str,
    sender: str,
    recipient: str,
    correlation_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """The ``message.rejected`` envelope of a technical rejection (see :func:`return_to_sender`)."""
    try:
        payload = dump_payload(
            "message.rejected",
            1,
            {
                "rejected_message_id": original_id,
                "rejected_type": original_type[:100] if original_type else None,
                "reason_code": reason_code,
                "reason_text": reason_text[:2000] if reason_text else None,
            },
        )
    except ContractError as exc:
        raise XmlChannelError(exc.code, f"return to sender: {exc.detail}") from exc
    return Envelope(
        type="message.rejected",
        version=1,
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        correlation_id=correlation_id or original_id,
        causation_id=original_id,
        payload=payload,
        id=message_id or uuid.uuid4(),
        occurred_at=occurred_at or datetime.now(UTC),
    )


def return_to_sender(
    original_id: uuid.UUID,
    original_type: str | None,
    reason_code: str,
    reason_text: str | None,
    *,
    tenant: str,
    sender: str,
    recipient: str,
    sender_authority: Authority,
    recipient_authority: Authority,
    correlation_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """A technical rejection of a received message (``administration.ReturnToSender.0901``).

    It is the ``message.rejected`` contract in XML: the original message's id and type, a reason
    code from :data:`~messaging.contracts.REJECTION_CODES` and a text (cut to 2000 characters).
    ``sender``/``recipient`` are the parties (we, and the author of the faulty message);
    ``correlation_id`` defaults to the original id when the conversation is unknown. Read back
    with :func:`xml_to_envelope`, it is a ``message.rejected`` envelope caused by the original.
    """
    envelope = rejection_envelope(
        original_id,
        original_type,
        reason_code,
        reason_text,
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        correlation_id=correlation_id,
        message_id=message_id,
        occurred_at=occurred_at,
    )
    return envelope_to_xml(
        envelope, sender_authority=sender_authority, recipient_authority=recipient_authority
    )
