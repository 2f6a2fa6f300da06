"""The sampler registry: an explicit list, since OpenWrt packages ship .pyc files only.

To add a sampler, write a module with a class following :class:`agent.samplers.base.Sampler`
and add it to :data:`REGISTRY`. Order matters: a sampler may use facts an earlier one
left in ``ctx.shared``.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.samplers.base import SampleContext, Sampler
from agent.samplers.interfaces import InterfacesSampler
from agent.samplers.system import SystemSampler

REGISTRY: list[Callable[[], Sampler]] = [
    SystemSampler,
    InterfacesSampler,
]


def build_samplers(disabled: tuple[str, ...] = ()) -> list[Sampler]:
    """Fresh instances of every registered sampler not disabled by configuration."""
    samplers = [factory() for factory in REGISTRY]
    unknown = set(disabled) - {s.name for s in samplers}
    if unknown:
        raise ValueError(f"disabled_samplers names unknown samplers: {', '.join(sorted(unknown))}")
    return [s for s in samplers if s.name not in disabled]


__all__ = ["REGISTRY", "SampleContext", "Sampler", "build_samplers"]
