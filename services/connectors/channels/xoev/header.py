"""The message header (``nachrichtenkopf``, XÖV type ``Nachrichtenkopf.G2G``)::

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

The authorities of the header are the exchange's own (who wrote the file, who is to read it);
the parties of the message (tenant, sender, recipient) travel in the ``umschlag`` of the content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from .elements import sub_element
from .errors import refusal_at
from .vocabulary import MESSAGE_TYPE_LIST_URI, MESSAGE_TYPE_LIST_VERSION, MessageDef


@dataclass(frozen=True)
class Authority:
    """An authority as XÖV names it: ``behoerdenkennung`` (praefix, kennung) and its name."""

    praefix: str
    kennung: str
    name: str


@dataclass(frozen=True)
class Header:
    """A header as read: the id and time as written (the caller parses them), the authorities."""

    message_id: str
    created_at: str
    author: Authority
    reader: Authority


def write_header(
    root: etree._Element,
    m: MessageDef,
    *,
    message_id: uuid.UUID,
    created_at: datetime,
    author: Authority,
    reader: Authority,
) -> None:
    """Append the ``nachrichtenkopf`` of message ``m`` to the document's root element."""
    kopf = sub_element(root, "nachrichtenkopf")
    ident = sub_element(kopf, "identifikation.nachricht")
    sub_element(ident, "nachrichtenUUID", str(message_id))
    typ = sub_element(ident, "nachrichtentyp")
    typ.set("listURI", MESSAGE_TYPE_LIST_URI)
    typ.set("listVersionID", MESSAGE_TYPE_LIST_VERSION)
    sub_element(typ, "code", m.number)
    sub_element(typ, "name", m.message_type)
    sub_element(ident, "erstellungszeitpunkt", created_at.astimezone(UTC).isoformat())
    _write_authority(kopf, "leser", reader)
    _write_authority(kopf, "autor", author)


def read_header(root: etree._Element, m: MessageDef) -> Header:
    """The header of an XSD-valid document whose root element is message ``m``; refused if
    its ``nachrichtentyp`` names another message than the root element."""
    ident = root.find("nachrichtenkopf/identifikation.nachricht")
    assert ident is not None  # the XSD requires it
    typ = ident.find("nachrichtentyp")
    assert typ is not None
    if typ.findtext("code") != m.number or typ.findtext("name") != m.message_type:
        raise refusal_at(typ, f"nachrichtentyp does not match the root element {m.root}")
    leser, autor = root.find("nachrichtenkopf/leser"), root.find("nachrichtenkopf/autor")
    assert leser is not None and autor is not None
    return Header(
        message_id=ident.findtext("nachrichtenUUID") or "",
        created_at=ident.findtext("erstellungszeitpunkt") or "",
        author=_read_authority(autor),
        reader=_read_authority(leser),
    )


def _write_authority(parent: etree._Element, tag: str, authority: Authority) -> None:
    el = sub_element(parent, tag)
    kennung = sub_element(el, "behoerdenkennung")
    sub_element(kennung, "praefix", authority.praefix)
    sub_element(kennung, "kennung", authority.kennung)
    sub_element(el, "behoerdenname", authority.name)


def _read_authority(el: etree._Element) -> Authority:
    return Authority(
        praefix=el.findtext("behoerdenkennung/praefix") or "",
        kennung=el.findtext("behoerdenkennung/kennung") or "",
        name=el.findtext("behoerdenname") or "",
    )
