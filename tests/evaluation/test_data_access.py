"""The data access export (Art. 15 GDPR), on PostgreSQL and SQLite: it holds every row the
tenant's database has about the client, every column of each, and nothing of anyone else;
the PDF has the same content; the export is audited; other offices, evaluators and unknown
ids are refused."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

from sqlalchemy import select

from services.agreements.db import Base
from services.agreements.models import AuditEvent
from services.agreements.models.vocabulary import Role
from services.agreements.operations.data_access import NOT_ABOUT_CLIENTS, plain
from tests.fixtures.cases import caller, seed_office_case
from tests.fixtures.factories import assessment_body
from tests.fixtures.figures import OFFICE_B, TENANT, FigureCases
from tests.fixtures.platform import Platform


def canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def rows_about(platform: Platform, client_id: str) -> dict[str, list[dict[str, Any]]]:
    """By value, not by schema: every row of every table in which the client's id, or the
    id of a row already found, appears in any column (until nothing new turns up)."""
    with platform.session(TENANT) as session:
        tables = {
            t.name: [dict(r) for r in session.execute(select(t)).mappings()]
            for t in Base.metadata.sorted_tables
            if t.name not in NOT_ABOUT_CLIENTS
        }
    known = {uuid.UUID(client_id)}
    found: dict[str, list[dict[str, Any]]] = {}
    grew = True
    while grew:
        grew = False
        for name, rows in tables.items():
            for row in rows:
                if row in found.get(name, []):
                    continue
                if any(value in known for value in row.values() if isinstance(value, uuid.UUID)):
                    found.setdefault(name, []).append(row)
                    if isinstance(row.get("id"), uuid.UUID):
                        known.add(row["id"])
                    grew = True
    return found


def test_the_export_holds_everything_about_the_client(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    platform, _cases = figure_platform
    who = caller(platform, TENANT, Role.COUNSELLOR, OFFICE_B)
    case = seed_office_case(who.api)  # consent, assessment, active agreement, referral
    who.api.ok("POST", f"clients/{case.client_id}/assessments", assessment_body(), 201)
    other = seed_office_case(who.api)
    export = who.api.ok("GET", f"clients/{case.client_id}/export")

    assert export["client_id"] == case.client_id and export["tenant"] == TENANT
    expected = rows_about(platform, case.client_id)
    assert set(expected) <= set(export["tables"])
    for name, rows in expected.items():
        assert sorted(canonical(plain(r)) for r in rows) == sorted(
            canonical(r) for r in export["tables"][name]
        ), name
    assert export["tables"]["clients"][0]["family_name"] == case.family_name
    assert len(export["tables"]["assessments"]) == 2
    assert export["tables"]["outbox_messages"], "the message that took the referral out"
    assert export["tables"]["audit_events"], "who read and changed the case"
    assert [r["recipient_kind"] for r in export["recipients"]] == ["jobcenter"]
    text = str(export)
    assert other.client_id not in text and other.family_name not in text

    with platform.session(TENANT) as session:
        last = session.scalars(
            select(AuditEvent).where(AuditEvent.client_id == uuid.UUID(case.client_id))
            .order_by(AuditEvent.id.desc())
        ).first()  # fmt: skip
    assert last is not None and (last.action, last.object_type) == ("export", "client")

    pdf = who.api.get(f"clients/{case.client_id}/export?format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text_of_pdf = subprocess.run(["pdftotext", "-", "-"], input=pdf.get_data(),
                                 capture_output=True, check=True).stdout.decode()  # fmt: skip
    assert case.family_name in text_of_pdf and "Art. 15" in text_of_pdf


def test_the_export_is_refused_outside_the_office(
    figure_platform: tuple[Platform, FigureCases],
) -> None:
    platform, cases = figure_platform
    c5 = cases.clients["c5"]  # office B's
    office_a = caller(platform, TENANT, Role.COUNSELLOR).api
    assert office_a.get(f"clients/{c5}/export").status_code == 404
    assert office_a.get(f"clients/{uuid.uuid4()}/export").status_code == 404
    admin = caller(platform, TENANT, Role.TENANT_ADMIN).api
    assert admin.get(f"clients/{c5}/export").status_code == 403
    lead_b = caller(platform, TENANT, Role.OFFICE_LEAD, OFFICE_B).api
    assert lead_b.get(f"clients/{c5}/export?format=docx").status_code == 422
    assert lead_b.ok("GET", f"clients/{c5}/export")["client_id"] == c5
