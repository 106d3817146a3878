"""Translation between the canonical :class:`~messaging.envelope.Envelope` and XÖV-style XML.

One XML document per message (see ``shared/FACTS.md``, "XÖV messages"): a root element named
after standard, message and number (``integra:referral.Requested.0101``), the header
(``nachrichtenkopf``) and the content (``nachrichteninhalt``: the envelope's ``umschlag`` and the
contract's payload fields). The technical rejection ``message.rejected`` travels as
``administration.ReturnToSender.0901`` (style of XInneres' Administration.ReturnToSender).

The modules, one job each:

- :mod:`.vocabulary`: namespace, standard, message numbers and root names, field kinds;
- :mod:`.document`: envelope ↔ document (root, ``umschlag``), validated both ways;
- :mod:`.header`: the ``nachrichtenkopf`` and its authorities;
- :mod:`.payload`: the contract's payload fields ↔ elements;
- :mod:`.reading`: hardened parsing and validation against the shipped XSD;
- :mod:`.errors`: :class:`XmlChannelError`, naming the refused message where it can be read;
- :mod:`.rejection`: the technical rejection (return to sender);
- :mod:`.xsd`: the generator of the shipped ``integra-xoev-1.0.xsd``.

This package's names are what the XML file channel and the simulated agencies use.
"""

from .document import XoevMessage, envelope_to_xml, read_document, xml_to_envelope
from .errors import XmlChannelError
from .header import Authority
from .reading import MAX_DOCUMENT_BYTES, xml_schema
from .rejection import rejection_envelope, return_to_sender

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Authority",
    "XmlChannelError",
    "XoevMessage",
    "envelope_to_xml",
    "read_document",
    "rejection_envelope",
    "return_to_sender",
    "xml_schema",
    "xml_to_envelope",
]
