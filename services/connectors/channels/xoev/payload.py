"""The content of a message: the contract's payload fields as XML elements, and back.

Payload fields become elements named like the contract's fields, in the contract's order; list
items are ``eintrag`` elements; ``None`` is ``xsi:nil="true"``; the contracts' free-form
categories (``Dict`` fields) are typed ``eintrag`` trees (``schluessel``, ``typ``), so every JSON
value round-trips exactly. Writing takes the payload in its wire (JSON) form, as
``Envelope.payload`` holds it, and reading gives it back in that form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lxml import etree
from marshmallow import Schema, fields

from .elements import child_elements, local_name, sub_element
from .errors import XmlChannelError, refusal_at
from .vocabulary import ITEM, XSI_NIL, field_kind, field_tag, nested_schema


def write_payload(parent: etree._Element, schema: Schema, payload: Mapping[str, Any]) -> None:
    """Append the payload's fields to ``parent`` (``nachrichteninhalt``, after ``umschlag``)."""
    _emit_object(parent, schema, payload)


def read_payload(elements: list[etree._Element], schema: Schema) -> dict[str, Any]:
    """The payload (wire form) of the field elements of ``nachrichteninhalt`` after
    ``umschlag``; refused at an element the contract does not have, or one given twice."""
    by_tag = {field_tag(name, f): f for name, f in schema.fields.items()}
    payload: dict[str, Any] = {}
    for child in elements:
        tag = local_name(child)
        if tag not in by_tag or tag in payload:
            raise refusal_at(child, f"unexpected element {tag!r}")
        payload[tag] = _read_value(child, by_tag[tag])
    return payload


# --- writing ---------------------------------------------------------------------------------


def _emit_object(parent: etree._Element, schema: Schema, data: Mapping[str, Any]) -> None:
    by_tag = {field_tag(name, f): f for name, f in schema.fields.items()}
    unknown = set(data) - set(by_tag)
    if unknown:
        raise XmlChannelError("schema_invalid", f"unknown fields {sorted(unknown)}")
    for tag, field in by_tag.items():
        if tag in data:
            _emit_value(parent, tag, field, data[tag])


def _emit_value(parent: etree._Element, tag: str, field: fields.Field, value: Any) -> None:
    el = sub_element(parent, tag)
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
    el = sub_element(parent, ITEM)
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


# --- reading ---------------------------------------------------------------------------------


def _is_nil(el: etree._Element) -> bool:
    return el.get(XSI_NIL) in ("true", "1")


def _text(el: etree._Element) -> str:
    if child_elements(el):
        raise refusal_at(el, "a value element must not contain elements")
    return el.text or ""


def _read_object(el: etree._Element, schema: Schema) -> dict[str, Any]:
    by_tag = {field_tag(name, f): f for name, f in schema.fields.items()}
    out: dict[str, Any] = {}
    for child in child_elements(el):
        tag = local_name(child)
        field = by_tag.get(tag)
        if field is None or etree.QName(child).namespace is not None:
            raise refusal_at(child, f"unknown element {tag!r}")
        if tag in out:
            raise refusal_at(child, f"element {tag!r} twice")
        out[tag] = _read_value(child, field)
    return out


def _read_value(el: etree._Element, field: fields.Field) -> Any:
    if _is_nil(el):
        if child_elements(el) or (el.text or "").strip():
            raise refusal_at(el, "a nil element must be empty")
        return None
    kind = field_kind(field)
    if kind in ("uuid", "date", "datetime", "string"):
        return _text(el)
    if kind == "integer":
        try:
            return int(_text(el))
        except ValueError:
            raise refusal_at(el, "not an integer") from None
    if kind == "boolean":
        text = _text(el).strip()
        if text not in ("true", "false"):
            raise refusal_at(el, "a boolean is true or false")
        return text == "true"
    if kind == "nested":
        assert isinstance(field, fields.Nested)
        return _read_object(el, nested_schema(field))
    if kind == "list":
        assert isinstance(field, fields.List)
        items = []
        for child in child_elements(el):
            if local_name(child) != ITEM:
                raise refusal_at(child, f"a list holds {ITEM} elements")
            items.append(_read_value(child, field.inner))
        return items
    # json: a free-form object
    return _read_json_members(el)


def _read_json_members(el: etree._Element) -> dict[str, Any]:
    if (el.text or "").strip():
        raise refusal_at(el, "an object holds entries, not text")
    out: dict[str, Any] = {}
    for child in child_elements(el):
        key = child.get("schluessel")
        if key is None:
            raise refusal_at(child, "an object entry needs a schluessel")
        if key in out:
            raise refusal_at(child, f"key {key!r} twice")
        out[key] = _read_json(child)
    return out


def _read_json(el: etree._Element) -> Any:
    typ = el.get("typ")
    if typ == "objekt":
        return _read_json_members(el)
    if typ == "liste":
        if (el.text or "").strip():
            raise refusal_at(el, "a list holds entries, not text")
        items = []
        for child in child_elements(el):
            if child.get("schluessel") is not None:
                raise refusal_at(child, "a list entry has no schluessel")
            items.append(_read_json(child))
        return items
    text = _text(el)
    if typ == "null":
        if text:
            raise refusal_at(el, "null has no text")
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
    raise refusal_at(el, f"not a value of typ {typ!r}: {text!r}")
