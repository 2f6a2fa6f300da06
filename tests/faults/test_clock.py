"""Gateway clocks 30 days behind, a year ahead, and jumping backwards mid-run.

The real agent loop (``Runner`` + ``Outbox`` + ``Publisher`` + ``PahoTransport``) runs in
threads with a skewed wall clock; the collector is a subprocess on the same broker.
Nothing may be lost, and the collector must flag each skewed clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent.config import load_config
from agent.publisher.outbox import Outbox
from agent.publisher.paho_transport import PahoTransport
from agent.publisher.publisher import Publisher
from agent.reporter import Reporter
from agent.runner import Runner
from agent.samplers import SampleContext
from tests.agent.fakesystem import FakeSystem
from tests.broker import Broker
from tests.faults.harness import CollectorProc, audit, read_spool, read_store, wait_until

DAY = 86_400
JUMP_S = -7_200


class Steady:
    name: ClassVar[str] = "steady"

    def available(self, ctx: SampleContext) -> str | None:
        return None

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        return {
            "system": {"cpu_usage_pct": 3.0},
            "interfaces": [{"name": "wan", "bytes_received": ctx.window_end}],
        }


def agent(gid: str, url: str, spool: Path, wall: Callable[[], float]) -> tuple[Runner, Outbox]:
    config = load_config(None, {"gateway_id": gid, "interval_s": 1, "mqtt_url": url, "publish_spread_s": 0})
    outbox = Outbox(str(spool))
    publisher = Publisher(gid, outbox, PahoTransport(url, gid, username=gid), resend_after_s=2, wall=wall)
    system = FakeSystem(files={"/proc/uptime": "5000.0 1.0\n", "/proc/self/status": "VmRSS:\t 9000 kB\n"})
    return Runner(config, system, Reporter([Steady()]), outbox, publisher, wall=wall), outbox


@pytest.mark.timeout(90)
def test_skewed_and_jumping_clocks_lose_nothing_and_are_flagged(
    fault_broker: Broker, collector_proc: CollectorProc, tmp_path: Path, figures: Callable[..., None]
) -> None:
    collector_proc.start()
    start = time.monotonic()
    walls: dict[str, Callable[[], float]] = {
        "clk-behind": lambda: time.time() - 30 * DAY,
        "clk-ahead": lambda: time.time() + 365 * DAY,
        "clk-jumper": lambda: time.time() + (JUMP_S if time.monotonic() - start > 3.5 else 0),
    }
    stop = threading.Event()
    runners = {gid: agent(gid, fault_broker.url, tmp_path / f"{gid}.db", wall) for gid, wall in walls.items()}
    threads = [
        threading.Thread(target=r.run, args=(stop,), kwargs={"max_windows": 7}, name=gid, daemon=True)
        for gid, (r, _) in runners.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    stop.set()
    assert not any(t.is_alive() for t in threads)
    for _, outbox in runners.values():
        outbox.close()
    spools = [read_spool(tmp_path / f"{gid}.db", gid) for gid in walls]
    for gid in walls:  # a clean stop drains; whatever is left stays in the outbox (not lost)
        wait_until(lambda gid=gid: read_spool(tmp_path / f"{gid}.db", gid).pending == 0, 20, f"{gid} drained")
    health = wait_until_flagged(collector_proc)
    result = audit(spools, read_store(collector_proc.db))
    skew = health.get("clock_skew_s", {})
    figures(
        **result.figures(),
        flagged=skew,
        clock_jumps=health.get("clock_jumps"),
        skewed_messages=health.get("clock_skewed_messages"),
    )
    assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
    assert all(s.next_seq > 7 for s in spools)  # 7 reports each, plus the jumper's event
    assert abs(skew.get("clk-behind", 0) + 30 * DAY) < 60
    assert abs(skew.get("clk-ahead", 0) - 365 * DAY) < 60
    assert abs(skew.get("clk-jumper", 0) - JUMP_S) < 5 and health.get("clock_jumps") == 1


def wait_until_flagged(collector: CollectorProc) -> dict[str, Any]:
    wait_until(
        lambda: len((collector.health() or {}).get("clock_skew_s", {})) >= 3, 20, "three clocks flagged"
    )
    return collector.health() or {}
