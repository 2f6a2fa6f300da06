from __future__ import annotations

from typing import Any, ClassVar

from agent.config import load_config
from agent.publisher.outbox import Outbox
from agent.reporter import Reporter
from agent.runner import Runner, next_boundary
from agent.samplers import SampleContext
from protocol import models
from protocol.codec import decode
from tests.agent.fakesystem import FakeSystem


class Steady:
    name: ClassVar[str] = "steady"

    def available(self, ctx: SampleContext) -> str | None:
        return None

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        return {
            "system": {"cpu_usage_pct": 5.0},
            "interfaces": [{"name": "wan", "bytes_sent": 1, "bytes_received": 2}],
        }


class Broken:
    name: ClassVar[str] = "broken"
    calls = 0

    def available(self, ctx: SampleContext) -> str | None:
        return None

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        Broken.calls += 1
        raise RuntimeError("driver said no")


class Missing:
    name: ClassVar[str] = "missing"

    def available(self, ctx: SampleContext) -> str | None:
        return "iw is not installed"

    def sample(self, ctx: SampleContext) -> dict[str, Any]:  # pragma: no cover - never called
        raise AssertionError


def system() -> FakeSystem:
    return FakeSystem(
        files={"/proc/uptime": "5000.5 100.0\n", "/proc/self/status": "Name:\tpython\nVmRSS:\t  20480 kB\n"}
    )


def test_next_boundary_is_clock_aligned() -> None:
    assert next_boundary(1000.0, 900) == 1800
    assert next_boundary(1800.0, 900) == 2700
    assert next_boundary(1799.9, 900) == 1800


def test_cycle_spools_a_valid_report_with_sampler_status_and_self_health() -> None:
    config = load_config(None, {"gateway_id": "gw-run"})
    box = Outbox(":memory:")
    wall = [1_700_000_000.0]
    runner = Runner(
        config, system(), Reporter([Steady(), Broken(), Missing()]), box, None, wall=lambda: wall[0]
    )
    seq = runner.cycle(1_700_000_100)
    message = decode(box.pending()[0].frame)
    report = models.validate(message)
    assert isinstance(report, models.Report) and report.seq == seq
    assert (report.window_start, report.window_end, report.uptime_s) == (1_700_000_000, 1_700_000_100, 5000)
    samplers = message["body"]["samplers"]
    assert samplers["steady"] == {"state": "ok"}
    assert samplers["broken"]["state"] == "error" and "driver said no" in samplers["broken"]["reason"]
    assert samplers["missing"] == {"state": "unavailable", "reason": "iw is not installed"}
    assert message["body"]["system"]["agent"]["rss_kib"] == 20480
    assert message["body"]["system"]["cpu_usage_pct"] == 5.0


def test_a_failing_sampler_is_backed_off_and_never_stops_the_others() -> None:
    Broken.calls = 0
    config = load_config(None, {"gateway_id": "gw-run"})
    box = Outbox(":memory:")
    runner = Runner(config, system(), Reporter([Broken(), Steady()]), box, None, wall=lambda: 1_700_000_000.0)
    for i in range(8):
        runner.cycle(1_700_000_100 + i * 900)
    assert Broken.calls < 8
    assert all(decode(r.frame)["body"]["samplers"]["steady"]["state"] == "ok" for r in box.pending())


def test_a_gap_and_a_clock_jump_are_reported_as_events() -> None:
    config = load_config(None, {"gateway_id": "gw-run"})
    box = Outbox(":memory:", quota_bytes=64 * 1024)
    wall = [1_700_000_000.0]
    mono = [100.0]
    runner = Runner(
        config, system(), Reporter([Steady()]), box, None, wall=lambda: wall[0], monotonic=lambda: mono[0]
    )
    runner.prime()
    for _ in range(2):
        box.append("report", lambda e, s: b"x" * 40_000)  # forces the quota to drop the oldest
    wall[0] -= 3600  # the clock jumped back an hour
    mono[0] += 10
    runner.cycle(1_700_000_900)
    events = [decode(r.frame) for r in box.pending() if r.kind == "event"]
    assert len(events) == 1
    kinds = {e["type"]: e for e in events[0]["body"]["events"]}
    assert kinds["gap"]["dropped"] >= 1 and kinds["gap"]["reason"] == "quota"
    assert kinds["clock_jump"]["delta_s"] <= -3500
    assert box.gap() is None
    assert models.validate(events[0]).kind == "event"
