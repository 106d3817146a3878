"""``/api/v1/clients/<id>/export``: a client's data access export (Art. 15 GDPR), as JSON or
as a PDF, for the counsellors and office leads of the client's office; audited."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from ..context import commit, current_principal, db_session
from ..data_access_pdf import render_data_access_pdf
from ..operations.data_access import export_client_data
from ..schemas.figures import DataAccessExportSchema, DataAccessQuerySchema
from .api.edge import READ_ERRORS, errors

PDF = {200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


def make_exports_blueprint() -> Blueprint:
    blp = Blueprint(
        "exports",
        __name__,
        url_prefix="",
        description="A client's data access export (Art. 15 GDPR).",
    )

    @blp.route("/clients/<uuid:client_id>/export")
    class ClientExport(MethodView):
        @blp.doc(responses=PDF)
        @blp.arguments(DataAccessQuerySchema, location="query")
        @blp.response(200, DataAccessExportSchema)
        @errors(*READ_ERRORS, 404)
        def get(self, query: dict[str, Any], client_id: uuid.UUID) -> Any:
            """Everything the tenant stores about the client (``format=pdf``: as a PDF)."""
            data = export_client_data(db_session(), current_principal(), client_id)
            commit()
            if query["format"] == "json":
                return data
            return Response(
                render_data_access_pdf(data),
                mimetype="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="auskunft-{client_id}.pdf"'},
            )

    return blp
