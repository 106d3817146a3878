"""A § 44a notice names as imposer only the agency that sent it (issue 13, item 2): the
connector sets the sender to its own agency kind; a notice whose payload names another
agency is refused (dead-lettered as wrong_agency) and changes no client."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from messaging.contracts import new_envelope
from services.agreements.incoming import AnswerRefused, handle_course_obligation
from tests.fixtures.cases import new_client
from tests.fixtures.platform import Platform

TENANT = "freiburg"


def notice(client: dict[str, object], sender: str, imposed_by: str) -> object:
    obligation = uuid.uuid4()
    return new_envelope(
        "course_obligation.imposed",
        1,
        tenant=TENANT,
        sender=sender,
        recipient="agreements",
        correlation_id=obligation,
        consent_id=obligation,
        payload={
            "obligation_id": obligation,
            "client": {
                "given_name": client["given_name"],
                "family_name": client["family_name"],
                "birth_date": date.fromisoformat(str(client["birth_date"])),
            },
            "imposed_by": imposed_by,
            "imposed_at": date.today(),
            "course": "integration_course",
        },
    )


def test_a_notice_naming_another_agency_as_imposer_is_refused(platform: Platform) -> None:
    api = platform.api(TENANT)
    client = new_client(api)
    forged = notice(client, sender="jobcenter", imposed_by="auslaenderbehoerde")
    with platform.session(TENANT) as session, session.begin():
        with pytest.raises(AnswerRefused) as refused:
            handle_course_obligation(session, forged)  # type: ignore[arg-type]
        assert refused.value.code == "wrong_agency"
    shown = api.ok("GET", f"clients/{client['id']}")
    assert shown["course_obligation"] is False


def test_the_sending_agency_is_recorded_as_imposer(platform: Platform) -> None:
    api = platform.api(TENANT)
    client = new_client(api)
    genuine = notice(client, sender="auslaenderbehoerde", imposed_by="auslaenderbehoerde")
    with platform.session(TENANT) as session, session.begin():
        handle_course_obligation(session, genuine)  # type: ignore[arg-type]
    shown = api.ok("GET", f"clients/{client['id']}")
    assert shown["course_obligation"] is True
    assert shown["course_obligation_imposed_by"] == "auslaenderbehoerde"
