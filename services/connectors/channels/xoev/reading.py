"""Hardened reading of XML documents, and validation against the shipped XSD.

Reading refuses before it parses: a size limit; an expat pre-pass refuses any DOCTYPE before
anything is declared, expanded or loaded; libxml2 then parses with entity resolution, DTD
loading and network access off. Every document written or read is validated against the XSD.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from xml.parsers import expat

from lxml import etree

from .errors import XmlChannelError, header_id, root_type
from .vocabulary import XSD_PATH

#: Larger documents are refused unread (``oversized``).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


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


def validate(doc: etree._ElementTree) -> None:
    """Check a document against the XSD; :class:`XmlChannelError` (``schema_invalid``) names
    the first violation and, where the header can be read, the message."""
    schema = xml_schema()
    if schema.validate(doc):
        return
    err = schema.error_log[0]
    raise XmlChannelError(
        "schema_invalid",
        f"XSD: {err.message}",
        line=err.line or None,
        element=err.path or None,
        message_id=header_id(doc.getroot()),
        message_type=root_type(doc.getroot()),
    )


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


def parse(data: bytes) -> etree._ElementTree:
    """The parsed document, or :class:`XmlChannelError` (``oversized``, ``malformed``)."""
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
