"""The figures' JSON shape (and the query that filters them)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import StrictSchema

FORMATS = ("json", "csv", "xlsx")


class FiguresQuerySchema(StrictSchema):
    period_from = fields.Date(
        data_key="from", metadata={"description": "first day of the period (inclusive, UTC)"}
    )
    period_to = fields.Date(
        data_key="to", metadata={"description": "last day of the period (inclusive, UTC)"}
    )
    office = fields.String(
        validate=validate.Length(min=1, max=60),
        metadata={"description": "an office key (see offices); an office lead sees their own"},
    )
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (default), csv or xlsx (downloads of the same tables)"},
    )
    lang = fields.String(
        load_default="de",
        validate=validate.OneOf(("de", "en")),
        metadata={"description": "language of titles and headers in csv and xlsx"},
    )


def _both(de: str, en: str) -> dict[str, str]:
    return {"de": de, "en": en}


class FigureColumnSchema(Schema):
    key = fields.String()
    label = fields.Function(lambda c: _both(c.de, c.en), metadata={"type": "object"})
    kind = fields.String(metadata={"description": "label, count, number or percent"})
    vocabulary = fields.String(allow_none=True)


class FigureTableSchema(Schema):
    key = fields.String()
    title = fields.Function(lambda t: _both(t.title_de, t.title_en), metadata={"type": "object"})
    note = fields.Function(lambda t: _both(t.note_de, t.note_en), metadata={"type": "object"})
    columns = fields.List(fields.Nested(FigureColumnSchema))
    rows = fields.List(
        fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)),
        metadata={"description": "one object per row, keyed by column key"},
    )


class FiguresSchema(Schema):
    tenant = fields.String()
    period_from = fields.Date(data_key="from", allow_none=True)
    period_to = fields.Date(data_key="to", allow_none=True)
    office = fields.String(allow_none=True)
    as_of = fields.Date()
    tables = fields.List(fields.Nested(FigureTableSchema))


class DataAccessQuerySchema(StrictSchema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "pdf")),
        metadata={"description": "json (default) or pdf"},
    )


class DataAccessExportSchema(Schema):
    """Everything the tenant stores about one client, by table (Art. 15 GDPR)."""

    class Meta:
        ordered = True

    tenant = fields.String()
    client_id = fields.String()
    generated_at = fields.String(metadata={"description": "ISO 8601 timestamp"})
    tables = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Dict()),
        metadata={"description": "table name → rows (every column) that concern the client"},
    )
    recipients = fields.List(
        fields.Dict(), metadata={"description": "agencies data was sent to, with what and when"}
    )
