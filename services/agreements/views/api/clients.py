"""Clients and what is recorded about them: consents and assessments."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from ...operations import assessments, clients, consents
from ...schemas import clients as client_schemas
from .edge import ERRORS, call_and_commit, document, errors


class Clients(MethodView):
    @document.arguments(client_schemas.ClientQuerySchema, location="query")
    @document.response(200, client_schemas.ClientPageSchema)
    @errors(401, 403, 422)
    def get(self, query: dict[str, Any]) -> Any:
        """List the office's clients (paginated; search with q)."""
        return call_and_commit(clients.list_clients, **query)

    @document.arguments(client_schemas.ClientInputSchema)
    @document.response(201, client_schemas.ClientSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a client in the caller's office."""
        return call_and_commit(clients.create_client, data)


class ClientResource(MethodView):
    @document.response(200, client_schemas.ClientSchema)
    @errors(401, 403, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(clients.get_client, client_id)

    @document.arguments(client_schemas.ClientUpdateSchema)
    @document.response(200, client_schemas.ClientSchema)
    @errors(*ERRORS)
    def patch(self, changes: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(clients.update_client, client_id, changes)


class ClientConsents(MethodView):
    @document.response(200, client_schemas.ConsentSchema(many=True))
    @errors(401, 403, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(consents.list_consents, client_id)

    @document.arguments(client_schemas.ConsentInputSchema)
    @document.response(201, client_schemas.ConsentSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(consents.give_consent, client_id, data)


class RevokeConsent(MethodView):
    @document.arguments(client_schemas.RevokeInputSchema)
    @document.response(200, client_schemas.ConsentSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], consent_id: uuid.UUID) -> Any:
        """Revoke a consent; open referrals it covered are revoked too."""
        return call_and_commit(consents.revoke_consent, consent_id, data.get("revoked_at"))


class ClientAssessments(MethodView):
    @document.response(200, client_schemas.AssessmentSchema(many=True))
    @errors(401, 403, 404)
    def get(self, client_id: uuid.UUID) -> Any:
        return call_and_commit(assessments.list_assessments, client_id)

    @document.arguments(client_schemas.AssessmentInputSchema)
    @document.response(201, client_schemas.AssessmentSchema)
    @errors(*ERRORS)
    def post(self, data: dict[str, Any], client_id: uuid.UUID) -> Any:
        return call_and_commit(assessments.record_assessment, client_id, data["by_field"])
