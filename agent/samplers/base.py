"""The sampler seam: a name, ``available(ctx)`` and ``sample(ctx)`` returning a body fragment.

Also what every sampler shares: :func:`conform`, which keeps a sampler's rows to the wire shapes
of :mod:`protocol.shapes`, and the samplers' tunables. What they read and how it is parsed lives
in :mod:`agent.parsers`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from agent.config import AgentConfig
from agent.record import field, record
from agent.system import System
from protocol import shapes

# -- tunables ----------------------------------------------------------------------------------
#: At most this many neighbouring networks are reported, strongest first.
MAX_NEIGHBOURS = 100
#: Echo requests per target (gateway, internet); BusyBox ping needs whole-second intervals.
PING_COUNT = 5
#: Echo requests per LAN station; kept small because stations are many.
STATION_PING_COUNT = 3
#: At most this many stations are pinged per window (the most recently active first).
MAX_STATION_PINGS = 16
#: A station idle for longer than this is not pinged (it is probably asleep).
STATION_ACTIVE_MS = 60_000


@record
class SampleContext:
    """What a sampler sees during one window."""

    system: System
    config: AgentConfig
    window_start: int
    window_end: int
    #: Monotonic seconds at sampling, for rates computed over the real elapsed time.
    monotonic: float = field(default_factory=time.monotonic)
    #: Facts one sampler found that a later one may use (e.g. the WAN device name).
    shared: dict[str, Any] = field(default_factory=dict)


class Sampler(Protocol):
    """One source of report sections. ``sample`` returns e.g. ``{"system": {...}}``."""

    name: ClassVar[str]

    def available(self, ctx: SampleContext) -> str | None:
        """``None`` if the sampler can run here, else the reason it cannot (one line)."""
        ...

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        """Read the device and return report-body sections; may raise on failure."""
        ...


# -- the wire shapes -----------------------------------------------------------------------------
def keys_of(shape: type) -> frozenset[str]:
    """Every key a TypedDict declares."""
    required: frozenset[str] = getattr(shape, "__required_keys__", frozenset())
    optional: frozenset[str] = getattr(shape, "__optional_keys__", frozenset())
    return required | optional


def conform(shape: type, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` without ``None`` values and without keys ``shape`` does not declare (a typo, or a
    figure computed ahead of the protocol, reaches the wire only once the shape has the field)."""
    allowed = keys_of(shape)
    return {k: v for k, v in row.items() if k in allowed and v is not None}


#: The shape of each report section a sampler fills.
SHAPES: dict[str, type] = {
    "system": shapes.SystemSection,
    "interfaces": shapes.Interface,
    "wan": shapes.Wan,
    "radios": shapes.Radio,
    "stations": shapes.Station,
    "quality": shapes.LinkQuality,
    "neighbours": shapes.Neighbour,
    "topology": shapes.TopologyLink,
}
