"""The offer directory in the staff portal: the tenant admin's pages (list, import, export,
edit an offer's places) and what the agreement pages show of offers (suggestions in the
editor, a step's linked offer with address and times).

``make_offer_pages_blueprint()`` is nested in the portal blueprint, so its pages share the
portal's login, CSRF check and error pages.
"""

from __future__ import annotations

import io
import json
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from ..context import commit, db_session
from ..errors import NotFound
from ..models.vocabulary import GoalField, Role
from .models import OfferOrganization, OfferService, OfferServiceField
from .operations import catalogue, exchange, matching
from .operations.directory import OfferImportInvalid
from .operations.editing import update_service

PAGE_SIZE = 50
EDITOR_SUGGESTIONS = 5
EDITABLE = (
    "name",
    "description",
    "status",
    "integra_capacity",
    "integra_free_places",
    "integra_wait_weeks",
    "integra_childcare",
)
HSDS_STATUSES = ("active", "inactive", "defunct", "temporarily closed")


def _lang() -> str:
    return "en" if getattr(get_locale(), "language", "de") == "en" else "de"


def offer_line(offer_id: uuid.UUID | str | None) -> str:
    """A linked offer in one line (name – provider – address – times), for pages and PDF."""
    if isinstance(offer_id, str):
        try:
            offer_id = uuid.UUID(offer_id)
        except ValueError:
            return ""
    if offer_id is None:
        return ""
    cache: dict[uuid.UUID, Any] = g.setdefault("offer_lines", {})
    if offer_id not in cache:
        cache[offer_id] = catalogue.describe_offers(db_session(), [offer_id]).get(offer_id)
    summary = cache[offer_id]
    return summary.line(_lang()) if summary else ""


def editor_suggestions(client_id: uuid.UUID, values: Any, goal_slots: int) -> dict[int, list[Any]]:
    """Suggestions per goal of the editor, for goals with a field and a target."""
    found: dict[int, list[Any]] = {}
    for index in range(goal_slots):
        field = values.get(f"goals-{index}-field")
        if not field or field not in set(GoalField) or not values.get(f"goals-{index}-target"):
            continue
        found[index] = matching.suggest(
            db_session(), g.principal, client_id, field, limit=EDITOR_SUGGESTIONS
        )
    return found


def _require_admin() -> None:
    g.principal.require_role(Role.TENANT_ADMIN)


def _edit_values(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("name", "description", "status"):
        changes[name] = (form.get(name) or "").strip()
    for name in ("integra_capacity", "integra_free_places", "integra_wait_weeks"):
        raw = (form.get(name) or "").strip()
        if not raw:
            changes[name] = None
            continue
        try:
            changes[name] = int(raw)
        except ValueError:
            errors[name] = _explain(name, "Enter a whole number.")
    changes["integra_childcare"] = form.get("integra_childcare") == "on"
    return changes, errors


def _explain(name: str, raw: str) -> str:
    from ..portal.messages import explain  # the portal registers this blueprint: import late

    return explain(name, raw)


def make_offer_pages_blueprint() -> Blueprint:
    bp = Blueprint("offers", __name__, template_folder="templates")

    @bp.app_context_processor
    def _globals() -> dict[str, Any]:
        return {"offer_line": offer_line}

    def _list_page(errors: list[str], status: int = 200) -> ResponseReturnValue:
        session = db_session()
        q = (request.args.get("q") or "").strip()
        page = max(1, request.args.get("page", 1, type=int) or 1)
        query = select(OfferService, OfferOrganization.name).join(
            OfferOrganization, OfferOrganization.id == OfferService.organization_id
        )
        if q:
            query = query.where(catalogue.search_condition(session, q))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(OfferService.name, OfferService.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        fields: dict[uuid.UUID, list[str]] = {}
        for service_id, field in session.execute(
            select(OfferServiceField.service_id, OfferServiceField.field).where(
                OfferServiceField.service_id.in_([r[0].id for r in rows])
            )
        ):
            fields.setdefault(service_id, []).append(field)
        html = render_template(
            "offers/admin_offers.html",
            rows=rows,
            fields=fields,
            total=total,
            page=page,
            page_size=PAGE_SIZE,
            q=q,
            errors=errors,
            imported=request.args.get("imported"),
        )
        commit()
        return html, status

    @bp.get("/admin/offers")
    def admin_offers() -> ResponseReturnValue:
        _require_admin()
        return _list_page([])

    @bp.post("/admin/offers/import")
    def admin_offers_import() -> ResponseReturnValue:
        _require_admin()
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return _list_page(
                ["Bitte eine Datei wählen." if _lang() == "de" else "Choose a file."], 422
            )
        data = upload.read()
        session = db_session()
        try:
            if upload.filename.lower().endswith(".zip"):
                result = _import_zip(session, data)
            else:
                try:
                    parsed = json.loads(data.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as error:
                    raise OfferImportInvalid(
                        [exchange.Problem(upload.filename, f"not JSON: {error}")]
                    ) from error
                result = exchange.import_json(session, g.principal, parsed)
        except OfferImportInvalid as refused:
            session.rollback()
            return _list_page(
                [refused.de if _lang() == "de" else refused.en, *refused.fields["records"]], 422
            )
        commit()
        count = result.created.get("service", 0) + result.updated.get("service", 0)
        return redirect(url_for("portal.offers.admin_offers", imported=count))

    @bp.get("/admin/offers/export.zip")
    def admin_offers_export() -> ResponseReturnValue:
        _require_admin()
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as folder:
            exchange.write_export(db_session(), Path(folder))
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(Path(folder).rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(folder).as_posix())
        commit()
        return Response(
            buffer.getvalue(),
            mimetype="application/zip",
            headers={"Content-Disposition": 'attachment; filename="angebote-hsds.zip"'},
        )

    @bp.route("/admin/offers/<uuid:service_id>", methods=["GET", "POST"])
    def admin_offer_edit(service_id: uuid.UUID) -> ResponseReturnValue:
        _require_admin()
        session = db_session()
        service = session.get(OfferService, service_id)
        if service is None:
            raise NotFound("offer")
        errors: dict[str, str] = {}
        values: Any = {**service.document, "integra_childcare": service.childcare}
        if request.method == "POST":
            changes, errors = _edit_values(request.form)
            if not errors:
                try:
                    update_service(session, g.principal, service_id, changes)
                except OfferImportInvalid as refused:
                    session.rollback()
                    errors = {
                        name: _explain(name, p.message)
                        for p in refused.problems
                        if (name := p.path.rsplit(".", 1)[-1].split("[")[0])
                    }
                else:
                    commit()
                    return redirect(url_for("portal.offers.admin_offers"))
            values = {
                **request.form,
                "integra_childcare": request.form.get("integra_childcare") == "on",
            }
        summary = catalogue.describe_offers(session, [service_id]).get(service_id)
        html = render_template(
            "offers/admin_offer_edit.html",
            service=service,
            values=values,
            errors=errors,
            statuses=HSDS_STATUSES,
            summary=summary,
        )
        commit()
        return html, (422 if errors else 200)

    return bp


def _import_zip(session: Any, data: bytes) -> Any:
    """A zip of the export (``tabular/datapackage.json`` or ``datapackage.json`` at its root,
    or ``organizations.json``)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except zipfile.BadZipFile as error:
        raise OfferImportInvalid([exchange.Problem("zip", f"not a zip file: {error}")]) from error
    for prefix in ("tabular/", ""):
        if f"{prefix}{exchange.DATAPACKAGE}" in names:
            package = json.loads(archive.read(f"{prefix}{exchange.DATAPACKAGE}"))
            texts = {}
            for resource in package.get("resources", []):
                member = f"{prefix}{resource.get('path')}"
                if member not in names:
                    raise OfferImportInvalid(
                        [exchange.Problem(exchange.DATAPACKAGE, f"{member} missing in the zip")]
                    )
                texts[Path(member).stem] = archive.read(member).decode("utf-8")
            return exchange.import_tabular(session, g.principal, texts)
    if exchange.JSON_FILE in names:
        return exchange.import_json(
            session, g.principal, json.loads(archive.read(exchange.JSON_FILE))
        )
    raise OfferImportInvalid(
        [exchange.Problem("zip", "holds neither datapackage.json nor organizations.json")]
    )
