"""The agreement service on the bus: its outbox relay and its inbox consumer."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from messaging.consumer import DeadLetterInfo, MessageConsumer
from messaging.relay import OutboxRelay
from messaging.topology import AGREEMENTS
from tenants.registry import Tenant

from .incoming import register_handlers
from .models.vocabulary import Role
from .operations import audit
from .principal import Principal


def dead_letter_auditor(tenant: Tenant) -> Any:
    """A message that cannot take effect leaves an audit entry beside its dead letter."""

    def record(session: Session, info: DeadLetterInfo) -> None:
        bus = Principal("service:bus", Role.SERVICE, tenant.slug)
        audit.record(
            session,
            bus,
            "message.dead_lettered",
            "message",
            info.message_id,
            None,
            type=info.type,
            reason_code=info.reason_code,
            reason_text=(info.reason_text or "")[:500],
        )

    return record


class AgreementBus:
    """Relay (outbox → bus) and consumer (bus → operations) of one tenant."""

    def __init__(self, settings: Any, tenant: Tenant, engine: Engine, **consumer_options: Any):
        self.tenant = tenant
        self.consumer = MessageConsumer(
            settings,
            tenant,
            AGREEMENTS,
            engine,
            on_dead_letter=dead_letter_auditor(tenant),
            **consumer_options,
        )
        register_handlers(self.consumer)
        self.relay = OutboxRelay.for_tenant(settings, tenant, engine)
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        relay = threading.Thread(
            target=self.relay.run, name=f"relay-{self.tenant.slug}", daemon=True
        )
        relay.start()
        self.threads = [self.consumer.start_thread(), relay]

    def signal_stop(self) -> None:
        self.consumer.stop()
        self.relay.stop()

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        for thread in self.threads:
            thread.join(timeout)
