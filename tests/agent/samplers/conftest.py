"""Helpers shared by the sampler tests: a configuration and a context factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from agent.config import AgentConfig
from agent.samplers.base import SampleContext
from agent.system import System

ARCHER = "archer-c6-v3-23.05"
MESH = "mesh-gateway-23.05"
WINDOW = 900


@pytest.fixture
def config() -> AgentConfig:
    """What an operator would set for the constructed homes (documentation addresses only)."""
    return AgentConfig(
        gateway_id="gw-test",
        ping_target="198.51.100.1",
        plan_down_kbps=100_000,
        plan_up_kbps=20_000,
        competitor_ssid_patterns=("Orange=Livebox-*", "SFR=SFR_*", "Bouygues=Bbox-*", "Free=FreeWifi*"),
    )


@dataclass(frozen=True)
class Clock:
    """Window bounds and monotonic time of the n-th sample (0 is the priming read)."""

    start: int = 1_795_437_000

    def ctx(self, system: System, config: AgentConfig, n: int) -> SampleContext:
        end = self.start + n * WINDOW
        return SampleContext(system, config, end - WINDOW if n else end, end, monotonic=100.0 + n * WINDOW)


@pytest.fixture
def clock() -> Clock:
    return Clock()


CtxFactory = Callable[[System, int], SampleContext]


@pytest.fixture
def make_ctx(clock: Clock, config: AgentConfig) -> CtxFactory:
    """``make_ctx(system, n)``: the context of sample ``n`` with the test configuration."""
    return lambda system, n: clock.ctx(system, config, n)
