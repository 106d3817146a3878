"""The channels by name: how each channel of ``tenants.vocabulary.Channel`` is built.

A partner's registry entry names its channel; the connector runtime looks the name up here and
gets the channel (and, for a push channel, the callback app where the agency answers). Each
channel module offers its own builder; adding a channel means a module and a line here, and
``tests/connectors/test_channel_registry.py`` checks that every declared channel has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from messaging.transports.base import Transport
from tenants.registry import PartnerEntry, Tenant
from tenants.settings import Settings
from tenants.vocabulary import CHANNELS
from tenants.vocabulary import Channel as ChannelName

from .amqp import build_amqp_channel
from .base import Channel, Intake
from .probes import ProbeResult, probe_amqp, probe_webhook, probe_xml_file
from .webhook import build_webhook_channel
from .webhook_callback import make_callback_app
from .xml_file import build_xml_file_channel

#: Builds the channel of one partner agency of one tenant on the bus's transport.
ChannelBuilder = Callable[[Transport, Tenant, PartnerEntry], Channel]
#: Builds the WSGI app where a push channel's agency answers: (settings, tenant slug, agency
#: kind, the connector's intake) → app, mounted at ``/t/<tenant>/agency/<kind>``.
CallbackAppBuilder = Callable[[Settings, str, str, Intake], Any]
#: Checks a partner without sending it case data (``integra partner check``).
PartnerProbe = Callable[[Transport, Tenant, PartnerEntry], ProbeResult]


@dataclass(frozen=True)
class ChannelSpec:
    """What the runtime needs of one channel: how to build it, how to check its partner, and
    for a channel whose agency pushes its answers (rather than the connector pulling them),
    how to build its callback."""

    build: ChannelBuilder
    probe: PartnerProbe
    callback_app: CallbackAppBuilder | None = None


CHANNEL_SPECS: Mapping[ChannelName, ChannelSpec] = {
    ChannelName.AMQP: ChannelSpec(build_amqp_channel, probe_amqp),
    ChannelName.WEBHOOK: ChannelSpec(
        build_webhook_channel, probe_webhook, callback_app=make_callback_app
    ),
    ChannelName.XML_FILE: ChannelSpec(build_xml_file_channel, probe_xml_file),
}


def channel_spec(name: str) -> ChannelSpec:
    """The spec of the channel called ``name``; ValueError names the known ones."""
    try:
        return CHANNEL_SPECS[ChannelName(name)]
    except (ValueError, KeyError):
        raise ValueError(f"unknown channel {name!r}; expected one of {CHANNELS}") from None


def build_channel(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> Channel:
    """The channel through which the connector reaches ``partner``."""
    return channel_spec(partner.channel).build(transport, tenant, partner)


def check_partner(transport: Transport, tenant: Tenant, partner: PartnerEntry) -> ProbeResult:
    """Whether ``partner`` is reachable and authenticated, by its channel's convention."""
    return channel_spec(partner.channel).probe(transport, tenant, partner)
