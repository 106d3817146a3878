"""Clients and what is recorded about them: consents and assessments."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...operations import assessments, clients, consents
from ...schemas import clients as client_schemas
from .edge import BODY_ERRORS, READ_ERRORS, call_and_commit, document, errors


class Clients(MethodView):
    @document.arguments(client_schemas.ClientQuerySchema, location="query")
    @document.response(200, client_schemas.ClientPageSchema)
    @errors(*READ_ERRORS)
    def get(self, query: dict[str, Any]) -> Any:
        """List the office's clients (paginated; search with q)."""
        return call_and_commit(clients.list_clients, **query)

    @document.arguments(client_schemas.ClientInputSchema)
    @document.response(201, client_schemas.ClientSchema)
    @errors(
        *BODY_ERRORS,
        rules={422: "`office_not_allowed`: `office_id` names another office than the caller's."},
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Register a client in the caller's office."""
        return call_and_commit(clients.create_client, data)


class ClientResource(MethodView):
    @document.response(200, client_schemas.ClientSchema)
    @errors(*READ_ERRORS, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(clients.get_client, client_id)

    # Every field is optional: no body (or ``{}``) changes nothing and answers the client.
    @document.arguments(client_schemas.ClientUpdateSchema, required=False)
    @document.response(200, client_schemas.ClientSchema)
    @errors(
        *BODY_ERRORS,
        404,
        rules={
            422: "`office_not_changeable`: the office changes only through a transfer. The "
            "record's rules hold once the changes are merged into it: the arrival is not "
            "before the birth, a course obligation names who imposed it (`invalid_input`)."
        },
    )
    def patch(self, changes: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(clients.update_client, client_id, changes)


class ClientConsents(MethodView):
    @document.response(200, client_schemas.ConsentSchema(many=True))
    @errors(*READ_ERRORS, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(consents.list_consents, client_id)

    @document.arguments(client_schemas.ConsentInputSchema)
    @document.response(201, client_schemas.ConsentSchema)
    @errors(*BODY_ERRORS, 404)
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(consents.give_consent, client_id, data)


class RevokeConsent(MethodView):
    # No body (or ``{}``) revokes as of now.
    @document.arguments(client_schemas.RevokeInputSchema, required=False)
    @document.response(200, client_schemas.ConsentSchema)
    @errors(
        *BODY_ERRORS,
        404,
        409,
        rules={
            409: "`consent_already_revoked`.",
            422: "`revoked_at` before the consent's `signed_at` (`invalid_input`).",
        },
    )
    def post(self, data: dict[str, Any], consent_id: uuid.UUID) -> Any:
        """Revoke a consent; open referrals it covered are revoked too."""
        return call_and_commit(consents.revoke_consent, consent_id, data.get("revoked_at"))


class ClientAssessments(MethodView):
    @document.response(200, client_schemas.AssessmentSchema(many=True))
    @errors(*READ_ERRORS, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(assessments.list_assessments, client_id)

    @document.arguments(client_schemas.AssessmentInputSchema)
    @document.response(201, client_schemas.AssessmentSchema)
    @errors(*BODY_ERRORS, 404)
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(assessments.record_assessment, client_id, data["by_field"])
