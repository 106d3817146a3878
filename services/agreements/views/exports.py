"""``/api/v1/clients/<id>/export``: a client's data access export (Art. 15 GDPR), as JSON or
as a PDF, for the counsellors and office leads of the client's office; audited."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from ..data_access_pdf import render_data_access_pdf
from ..operations.data_access import export_client_data
from ..schemas.figures import DataAccessExportSchema, DataAccessQuerySchema
from .api.edge import attachment, call_and_commit, documented, nested_blueprint

PDF = {200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


class ClientExport(MethodView):
    @documented(200, DataAccessExportSchema, 404, query=DataAccessQuerySchema, downloads=PDF)
    def get(self, query: dict[str, Any], client_id: uuid.UUID) -> Any:
        """Everything the tenant stores about the client (``format=pdf``: as a PDF)."""
        data = call_and_commit(export_client_data, client_id)
        if query["format"] == "json":
            return data
        return attachment(
            render_data_access_pdf(data), "application/pdf", f"auskunft-{client_id}.pdf"
        )


def make_exports_blueprint() -> Blueprint:
    return nested_blueprint(
        "exports",
        "A client's data access export (Art. 15 GDPR).",
        [("/clients/<uuid:client_id>/export", ClientExport)],
    )
