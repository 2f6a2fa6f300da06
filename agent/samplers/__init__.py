"""The sampler registry: an explicit list, since OpenWrt packages ship .pyc files only.

To add a sampler, write a module with a class following :class:`agent.samplers.base.Sampler`
and add it to :data:`REGISTRY`. Order matters: a sampler may use facts an earlier one
left in ``ctx.shared``:

- ``wan`` names the WAN device and gateway (``wan_device``, ``wan_gateway``) for ``interfaces``,
  ``stations`` and ``quality``;
- ``radios`` leaves its rows by interface (``radio_by_iface``) for the stations' SNR and
  reachable-bandwidth estimate;
- ``stations`` leaves its rows (``stations``) for ``quality`` to add delay and loss, and for ``apps``
  to add what each station's DHCP client said (``dhcp_vc``, ``dhcp_prl``).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.dpi.sampler import AppsSampler
from agent.samplers.base import SampleContext, Sampler
from agent.samplers.interfaces import InterfacesSampler
from agent.samplers.neighbours import NeighboursSampler
from agent.samplers.quality import QualitySampler
from agent.samplers.radios import RadiosSampler
from agent.samplers.stations import StationsSampler
from agent.samplers.system import SystemSampler
from agent.samplers.topology import TopologySampler
from agent.samplers.wan import WanSampler

REGISTRY: list[Callable[[], Sampler]] = [
    SystemSampler,
    WanSampler,
    InterfacesSampler,
    RadiosSampler,
    StationsSampler,
    QualitySampler,
    NeighboursSampler,
    TopologySampler,
    AppsSampler,
]


def build_samplers(disabled: tuple[str, ...] = ()) -> list[Sampler]:
    """Fresh instances of every registered sampler not disabled by configuration."""
    samplers = [factory() for factory in REGISTRY]
    unknown = set(disabled) - {s.name for s in samplers}
    if unknown:
        raise ValueError(f"disabled_samplers names unknown samplers: {', '.join(sorted(unknown))}")
    return [s for s in samplers if s.name not in disabled]


__all__ = ["REGISTRY", "SampleContext", "Sampler", "build_samplers"]
