"""Simulated agencies on their channels (demo and tests), registered by channel name.

The adapters are Integra's own stand-ins for agency systems; real agencies use the shipped
client (:mod:`services.connectors.agency`: AMQP, webhook answers), their own web endpoint
(webhook) or their case software's import and export folders (XML). Each channel module offers
its adapter's builder; :func:`simulate_agency` looks the partner's channel up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tenants.vocabulary import CHANNELS, Channel

from ..simulators import SimulatedAgency
from .amqp import simulate_on_amqp
from .base import SimulatedEndpoint, SimulationSite, SimulatorAdapter
from .webhook import simulate_on_webhook
from .xml_file import simulate_on_xml_file

__all__ = [
    "SIMULATOR_BUILDERS",
    "SimulatedEndpoint",
    "SimulationSite",
    "SimulatorAdapter",
    "simulate_agency",
]

#: Puts a simulated agency on one partner's channel.
SimulatorBuilder = Callable[[SimulationSite, SimulatedAgency], SimulatorAdapter]

SIMULATOR_BUILDERS: Mapping[Channel, SimulatorBuilder] = {
    Channel.AMQP: simulate_on_amqp,
    Channel.WEBHOOK: simulate_on_webhook,
    Channel.XML_FILE: simulate_on_xml_file,
}


def simulate_agency(site: SimulationSite, agency: SimulatedAgency) -> SimulatorAdapter:
    """``agency`` on the channel of ``site.partner``; ValueError for an unknown channel."""
    try:
        build = SIMULATOR_BUILDERS[Channel(site.partner.channel)]
    except (ValueError, KeyError):
        raise ValueError(
            f"unknown channel {site.partner.channel!r}; expected one of {CHANNELS}"
        ) from None
    return build(site, agency)
