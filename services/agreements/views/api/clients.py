"""Clients and what is recorded about them: consents and assessments."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...operations import assessments, clients, consents
from ...schemas import clients as client_schemas
from .edge import call_and_commit, documented


class Clients(MethodView):
    @documented(200, client_schemas.ClientPageSchema, query=client_schemas.ClientQuerySchema)
    def get(self, query: dict[str, Any]) -> Any:
        """List the office's clients (paginated; search with q)."""
        return call_and_commit(clients.list_clients, **query)

    @documented(
        201,
        client_schemas.ClientSchema,
        body=client_schemas.ClientInputSchema,
        rules={422: "`office_not_allowed`: `office_id` names another office than the caller's."},
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Register a client in the caller's office."""
        return call_and_commit(clients.create_client, data)


class ClientResource(MethodView):
    @documented(200, client_schemas.ClientSchema, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(clients.get_client, client_id)

    # Every field is optional: no body (or ``{}``) changes nothing and answers the client.
    @documented(
        200,
        client_schemas.ClientSchema,
        404,
        body=client_schemas.ClientUpdateSchema,
        optional_body=True,
        rules={
            422: "`office_not_changeable`: the office changes only through a transfer. The "
            "record's rules hold once the changes are merged into it: the arrival is not "
            "before the birth, a course obligation names who imposed it (`invalid_input`)."
        },
    )
    def patch(self, changes: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(clients.update_client, client_id, changes)


class ClientConsents(MethodView):
    @documented(200, client_schemas.ConsentSchema(many=True), 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(consents.list_consents, client_id)

    @documented(201, client_schemas.ConsentSchema, 404, body=client_schemas.ConsentInputSchema)
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(consents.give_consent, client_id, data)


class RevokeConsent(MethodView):
    # No body (or ``{}``) revokes as of now.
    @documented(
        200,
        client_schemas.ConsentSchema,
        404,
        409,
        body=client_schemas.RevokeInputSchema,
        optional_body=True,
        rules={
            409: "`consent_already_revoked`.",
            422: "`revoked_at` before the consent's `signed_at` (`invalid_input`).",
        },
    )
    def post(self, data: dict[str, Any], consent_id: uuid.UUID) -> Any:
        """Revoke a consent; open referrals it covered are revoked too."""
        return call_and_commit(consents.revoke_consent, consent_id, data.get("revoked_at"))


class ClientAssessments(MethodView):
    @documented(200, client_schemas.AssessmentSchema(many=True), 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(assessments.list_assessments, client_id)

    @documented(
        201, client_schemas.AssessmentSchema, 404, body=client_schemas.AssessmentInputSchema
    )
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(assessments.record_assessment, client_id, data["by_field"])
