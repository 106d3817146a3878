"""The generator of the shipped XSD, from the versioned marshmallow contracts.

``integra-xoev-1.0.xsd`` is generated from :data:`messaging.contracts.CONTRACTS`, so the two
cannot drift apart silently: a test compares the shipped file with :func:`build_xsd`.
Regenerate after adding a contract version (and its message number in
:data:`.vocabulary.MESSAGES`)::

    python -m services.connectors.channels.xoev.xsd > \
        services/connectors/channels/xoev/integra-xoev-1.0.xsd
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from lxml import etree
from marshmallow import Schema, fields, validate

from messaging.contracts import CONTRACTS, PARTY

from .vocabulary import (
    ITEM,
    JSON_TYPES,
    MESSAGE_TYPE_LIST_URI,
    MESSAGE_TYPE_LIST_VERSION,
    MESSAGES,
    NAMESPACE,
    PREFIX,
    STANDARD,
    STANDARD_VERSION,
    XS,
    MessageDef,
    field_kind,
    field_tag,
    nested_schema,
)


def _xs(tag: str) -> str:
    return f"{{{XS}}}{tag}"


def _q(name: str) -> str:
    """A reference to a type of the target namespace."""
    return f"{PREFIX}:{name}"


#: The header's complex types, each a sequence of (element, its type[, "optional"]).
HEADER_TYPES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    (
        "Behoerdenkennung",
        (("praefix", "Behoerdenpraefix"), ("kennung", "Behoerdenkennung.Kennung")),
    ),
    ("Behoerde", (("behoerdenkennung", "Behoerdenkennung"), ("behoerdenname", "Behoerdenname"))),
    (
        "Identifikation.Nachricht",
        (
            ("nachrichtenUUID", "UUID"),
            ("nachrichtentyp", "Code.Nachrichtentyp"),
            ("erstellungszeitpunkt", "Zeitpunkt"),
        ),
    ),
    (
        "Nachrichtenkopf.G2G",
        (
            ("identifikation.nachricht", "Identifikation.Nachricht"),
            ("leser", "Behoerde"),
            ("autor", "Behoerde"),
        ),
    ),
    (
        "Umschlag",
        (
            ("mandant", "Mandant"),
            ("absender", "Partei"),
            ("empfaenger", "Partei"),
            ("korrelationsUUID", "UUID"),
            ("verursachungsUUID", "UUID", "optional"),
            ("einwilligungsUUID", "UUID", "optional"),
        ),
    ),
)


class _Builder:
    def __init__(self) -> None:
        self.root = etree.Element(
            _xs("schema"),
            nsmap={"xs": XS, PREFIX: NAMESPACE},
            targetNamespace=NAMESPACE,
            elementFormDefault="unqualified",
            attributeFormDefault="unqualified",
            version=STANDARD_VERSION,
        )
        doc = etree.SubElement(etree.SubElement(self.root, _xs("annotation")), _xs("documentation"))
        doc.text = (
            f"{STANDARD} {STANDARD_VERSION}: XÖV-style messages of the Integra XML file channel. "
            "Generated from messaging.contracts by services.connectors.channels.xoev.xsd; "
            "do not edit by hand."
        )
        self._nested_types: dict[type[Schema], str] = {}

    # simple and header types ----------------------------------------------------------------

    def simple(self, name: str, base: str, **facets: object) -> etree._Element:
        st = etree.SubElement(self.root, _xs("simpleType"), name=name)
        self._restriction(st, base, facets)
        return st

    @staticmethod
    def _restriction(parent: etree._Element, base: str, facets: Mapping[str, object]) -> None:
        r = etree.SubElement(parent, _xs("restriction"), base=base)
        for facet, value in facets.items():
            values = value if isinstance(value, list | tuple) else [value]
            for v in values:
                etree.SubElement(r, _xs(facet), value=str(v))

    def complex(self, name: str | None, parent: etree._Element | None = None) -> etree._Element:
        if parent is None:
            return etree.SubElement(self.root, _xs("complexType"), name=name or "")
        return etree.SubElement(parent, _xs("complexType"))

    def sequence(self, name: str) -> etree._Element:
        """A named complex type of a sequence of elements; the sequence, to fill."""
        return etree.SubElement(self.complex(name), _xs("sequence"))

    @staticmethod
    def element(
        seq: etree._Element,
        name: str,
        type_: str | None = None,
        *,
        min_occurs: int = 1,
        max_occurs: str = "1",
        nillable: bool = False,
    ) -> etree._Element:
        el = etree.SubElement(seq, _xs("element"), name=name)
        if type_ is not None:
            el.set("type", type_)
        if min_occurs != 1:
            el.set("minOccurs", str(min_occurs))
        if max_occurs != "1":
            el.set("maxOccurs", max_occurs)
        if nillable:
            el.set("nillable", "true")
        return el

    def base_types(self) -> None:
        self.simple(
            "UUID",
            "xs:string",
            pattern="[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        )
        # A point in time with its offset: the contracts' AwareDateTime.
        self.simple("Zeitpunkt", "xs:dateTime", pattern=r".+(Z|[+\-][0-9]{2}:[0-9]{2})")
        self.simple("Datum", "xs:date", pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}")
        self.simple("Partei", "xs:string", pattern=_xsd_pattern(PARTY.regex.pattern))
        self.simple("Mandant", "xs:string", minLength=1, maxLength=100)
        self.simple("Behoerdenpraefix", "xs:string", minLength=1, maxLength=20)
        self.simple("Behoerdenkennung.Kennung", "xs:string", minLength=1, maxLength=100)
        self.simple("Behoerdenname", "xs:string", minLength=1, maxLength=300)

        code = self.complex("Code.Nachrichtentyp")
        seq = etree.SubElement(code, _xs("sequence"))
        code_el = self.element(seq, "code")
        self._restriction(
            etree.SubElement(code_el, _xs("simpleType")),
            "xs:string",
            {"enumeration": sorted(m.number for m in MESSAGES.values())},
        )
        self._restriction(
            etree.SubElement(self.element(seq, "name"), _xs("simpleType")),
            "xs:string",
            {"enumeration": sorted(m.message_type for m in MESSAGES.values())},
        )
        for attr, fixed in (
            ("listURI", MESSAGE_TYPE_LIST_URI),
            ("listVersionID", MESSAGE_TYPE_LIST_VERSION),
        ):
            etree.SubElement(
                code, _xs("attribute"), name=attr, type="xs:string", use="required", fixed=fixed
            )

        for name, elements in HEADER_TYPES:
            seq = self.sequence(name)
            for element, type_, *optional in elements:
                self.element(seq, element, _q(type_), min_occurs=0 if optional else 1)

        # Free-form data (the contracts' Dict fields): typed, reversible entries.
        entry = etree.SubElement(self.root, _xs("complexType"), name="JSON.Eintrag", mixed="true")
        seq = etree.SubElement(entry, _xs("sequence"))
        self.element(seq, ITEM, _q("JSON.Eintrag"), min_occurs=0, max_occurs="unbounded")
        etree.SubElement(entry, _xs("attribute"), name="schluessel", type="xs:string")
        typ = etree.SubElement(entry, _xs("attribute"), name="typ", use="required")
        self._restriction(
            etree.SubElement(typ, _xs("simpleType")), "xs:string", {"enumeration": JSON_TYPES}
        )
        seq = self.sequence("JSON.Objekt")
        self.element(seq, ITEM, _q("JSON.Eintrag"), min_occurs=0, max_occurs="unbounded")

    # contract-derived types -----------------------------------------------------------------

    def fields_into(self, seq: etree._Element, schema: Schema) -> None:
        for name, field in schema.fields.items():
            el = self.element(
                seq,
                field_tag(name, field),
                min_occurs=1 if field.required else 0,
                nillable=field.allow_none,
            )
            self.field_type(el, field)

    def field_type(self, el: etree._Element, field: fields.Field) -> None:
        kind = field_kind(field)
        if kind == "uuid":
            el.set("type", _q("UUID"))
        elif kind == "datetime":
            el.set("type", _q("Zeitpunkt"))
        elif kind == "date":
            el.set("type", _q("Datum"))
        elif kind == "boolean":
            el.set("type", "xs:boolean")
        elif kind == "integer":
            el.set("type", "xs:integer")
        elif kind == "json":
            el.set("type", _q("JSON.Objekt"))
        elif kind == "string":
            facets = _string_facets(field)
            if facets:
                self._restriction(etree.SubElement(el, _xs("simpleType")), "xs:string", facets)
            else:
                el.set("type", "xs:string")
        elif kind == "nested":
            assert isinstance(field, fields.Nested)
            el.set("type", _q(self.nested_type(nested_schema(field))))
        elif kind == "list":
            assert isinstance(field, fields.List)
            min_items = 0
            for v in field.validators:
                if isinstance(v, validate.Length) and v.min:
                    min_items = v.min
            ct = etree.SubElement(el, _xs("complexType"))
            seq = etree.SubElement(ct, _xs("sequence"))
            item = self.element(seq, ITEM, min_occurs=min_items, max_occurs="unbounded")
            self.field_type(item, field.inner)

    def nested_type(self, schema: Schema) -> str:
        cls = type(schema)
        name = self._nested_types.get(cls)
        if name is None:
            name = "Daten." + cls.__name__.removesuffix("Schema")
            self._nested_types[cls] = name
            ct = self.complex(name)
            self.fields_into(etree.SubElement(ct, _xs("sequence")), schema)
        return name

    def message(self, m: MessageDef) -> None:
        schema = CONTRACTS[(m.message_type, m.version)]()
        inhalt = self.complex(f"Inhalt.{m.root}")
        seq = etree.SubElement(inhalt, _xs("sequence"))
        self.element(seq, "umschlag", _q("Umschlag"))
        self.fields_into(seq, schema)

        nachricht = self.complex(f"Nachricht.{m.root}")
        seq = etree.SubElement(nachricht, _xs("sequence"))
        self.element(seq, "nachrichtenkopf", _q("Nachrichtenkopf.G2G"))
        self.element(seq, "nachrichteninhalt", _q(f"Inhalt.{m.root}"))
        for attr, fixed in (("standard", STANDARD), ("version", STANDARD_VERSION)):
            etree.SubElement(
                nachricht,
                _xs("attribute"),
                name=attr,
                type="xs:string",
                use="required",
                fixed=fixed,
            )
        for attr in ("produkt", "produkthersteller"):
            etree.SubElement(
                nachricht, _xs("attribute"), name=attr, type="xs:string", use="required"
            )
        etree.SubElement(nachricht, _xs("attribute"), name="produktversion", type="xs:string")

        doc = etree.SubElement(
            etree.SubElement(
                etree.SubElement(
                    self.root, _xs("element"), name=m.root, type=_q(f"Nachricht.{m.root}")
                ),
                _xs("annotation"),
            ),
            _xs("documentation"),
        )
        doc.text = f"{m.message_type} v{m.version} (Nachricht {m.number})"


def _xsd_pattern(python_regex: str | bytes) -> str:
    """A Python regex anchored with ^...$ as an XSD pattern (XSD patterns are always anchored)."""
    if isinstance(python_regex, bytes):
        python_regex = python_regex.decode()
    if not (python_regex.startswith("^") and python_regex.endswith("$")):
        raise TypeError(f"pattern {python_regex!r} must be anchored with ^ and $")
    body = python_regex[1:-1]
    if re.search(r"\\[dwsbDWSB]|\(\?", body):
        raise TypeError(f"pattern {python_regex!r} uses syntax XSD does not share")
    return body.replace("_-]", r"_\-]")


def _string_facets(field: fields.Field) -> dict[str, object]:
    facets: dict[str, object] = {}
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            facets["enumeration"] = [str(c) for c in v.choices]
        elif isinstance(v, validate.Length):
            if v.equal is not None:
                facets["length"] = v.equal
            if v.min is not None:
                facets["minLength"] = v.min
            if v.max is not None:
                facets["maxLength"] = v.max
        elif isinstance(v, validate.Regexp):
            facets["pattern"] = _xsd_pattern(v.regex.pattern)
    return facets


def build_xsd() -> bytes:
    """The XSD of every message in :data:`MESSAGES`, generated from the contracts."""
    missing = set(CONTRACTS) - set(MESSAGES)
    if missing:
        raise TypeError(f"contracts without a message number: {sorted(missing)}")
    b = _Builder()
    b.base_types()
    for key in sorted(MESSAGES, key=lambda k: MESSAGES[k].number):
        b.message(MESSAGES[key])
    etree.indent(b.root, space="  ")
    return etree.tostring(b.root, xml_declaration=True, encoding="UTF-8") + b"\n"


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    sys.stdout.buffer.write(build_xsd())
