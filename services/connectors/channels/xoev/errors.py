"""Why a document cannot be written or accepted, and which message it was, as far as known.

A refusal names the message it refuses (its id and type, read from the document's header and
root element where they can be read), so that a return-to-sender (:mod:`.rejection`) can tell
the agency which of its messages failed.
"""

from __future__ import annotations

import uuid
from dataclasses import KW_ONLY, dataclass

from lxml import etree

from messaging.contracts import REJECTION_CODES

from .vocabulary import MESSAGES_BY_ROOT, NAMESPACE


@dataclass(eq=False)
class XmlChannelError(Exception):
    """A document that cannot be written or accepted.

    ``code`` is one of :data:`messaging.contracts.REJECTION_CODES`; ``line`` and ``element`` say
    where (when known); ``message_id`` and ``message_type`` are read from the header when it could
    be read, so that a :func:`~.rejection.return_to_sender` can name the message.
    ``syntax_error``: the bytes are not well-formed XML (perhaps a file still being written).
    """

    code: str
    reason: str
    _: KW_ONLY
    line: int | None = None
    element: str | None = None
    message_id: uuid.UUID | None = None
    message_type: str | None = None
    syntax_error: bool = False

    def __post_init__(self) -> None:
        if self.code not in REJECTION_CODES:
            raise ValueError(f"unknown rejection code {self.code!r}")
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.element:
            where.append(f"element {self.element}")
        suffix = f" ({', '.join(where)})" if where else ""
        return f"{self.code}: {self.reason}{suffix}"


def root_type(root: etree._Element) -> str | None:
    """The message type a root element names (None for a root outside the standard)."""
    qname = etree.QName(root)
    m = MESSAGES_BY_ROOT.get(qname.localname) if qname.namespace == NAMESPACE else None
    return m.message_type if m else None


def header_id(root: etree._Element) -> uuid.UUID | None:
    """The ``nachrichtenUUID`` of the header, if it can be read."""
    text = root.findtext("nachrichtenkopf/identifikation.nachricht/nachrichtenUUID")
    try:
        return uuid.UUID(text.strip()) if text else None
    except ValueError:
        return None


def refusal_at(el: etree._Element, reason: str, code: str = "schema_invalid") -> XmlChannelError:
    """The error for ``el`` of a parsed document: its line and path, and the message it is in."""
    tree = el.getroottree()
    root = tree.getroot()
    return XmlChannelError(
        code,
        reason,
        line=el.sourceline,
        element=tree.getpath(el),
        message_id=header_id(root),
        message_type=root_type(root),
    )
