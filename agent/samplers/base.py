"""The sampler seam: a name, ``available(ctx)`` and ``sample(ctx)`` returning a body fragment."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Protocol

from agent.config import AgentConfig
from agent.record import field, record
from agent.system import System


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
