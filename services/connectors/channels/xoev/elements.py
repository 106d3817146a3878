"""Small lxml helpers the writer and the reader of documents share."""

from __future__ import annotations

from lxml import etree


def sub_element(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    """A new child ``tag`` of ``parent``, with ``text`` if given."""
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def local_name(el: etree._Element) -> str:
    return etree.QName(el).localname


def child_elements(el: etree._Element) -> list[etree._Element]:
    """The element children of ``el`` (comments and processing instructions left out)."""
    return [c for c in el if isinstance(c.tag, str)]
