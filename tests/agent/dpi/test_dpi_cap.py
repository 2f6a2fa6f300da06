"""The DPI's conntrack state is capped, and DPI does not start on a router short of memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import load_config
from agent.dpi.classifier import Classifier
from agent.dpi.monitor import DpiMonitor
from agent.dpi.sampler import AppsSampler
from agent.samplers.base import SampleContext
from tests.agent.fakesystem import FakeSystem

ARP = "IP address HW type Flags HW address Mask Device\n192.168.1.3 0x1 0x2 02:00:00:00:00:03 * br-lan\n"


class NoPackets:
    def read(self, timeout: float = 0.0, limit: int = 10_000) -> list[object]:
        return []

    def close(self) -> None:
        pass


def table(ports: range, down: int) -> str:
    return "".join(
        f"ipv4 2 tcp 6 300 ESTABLISHED src=192.168.1.3 dst=198.51.100.9 sport={p} dport=443 packets=1 bytes=100"
        f" src=198.51.100.9 dst=203.0.113.1 sport=443 dport={p} packets=1 bytes={down} [ASSURED] mark=0 zone=0 use=2\n"
        for p in ports
    )


def test_tracked_entries_stop_at_the_cap_and_the_rest_is_counted_not_accounted() -> None:
    proc = {"/proc/net/nf_conntrack": table(range(40000, 40050), 1000), "/proc/net/arp": ARP}
    clock = [1000.0]
    monitor = DpiMonitor(
        Classifier(),
        source=NoPackets(),
        read=proc.__getitem__,
        volumes="conntrack",  # type: ignore[arg-type]
        max_tracked=10,
        clock=lambda: clock[0],
    )
    monitor.tick()  # baseline
    assert len(monitor._tracked) == 10 and monitor.untracked == 40
    proc["/proc/net/nf_conntrack"] = table(range(40000, 40050), 3000)  # every entry moved 2000 bytes down
    clock[0] += 30
    monitor.tick()
    assert len(monitor._tracked) == 10 and monitor.untracked == 40
    assert sum(row["bytes_down"] for row in monitor.window.report()) == 10 * 2000  # the tracked ten only
    # the table shrinks: the tracked ten end (found only after a whole pass: the others wait a
    # tick), then ten others are tracked from their current counters, then counted
    proc["/proc/net/nf_conntrack"] = table(range(40010, 40050), 5000)
    clock[0] += 30
    monitor.tick()
    assert len(monitor._tracked) == 0 and monitor.untracked == 40
    clock[0] += 30
    monitor.tick()
    assert len(monitor._tracked) == 10 and monitor.untracked == 30
    assert sum(row["bytes_down"] for row in monitor.window.report()) == 0, "old counters counted as new bytes"
    proc["/proc/net/nf_conntrack"] = table(range(40010, 40050), 5500)
    clock[0] += 30
    monitor.tick()
    assert sum(row["bytes_down"] for row in monitor.window.report()) == 10 * 500


@pytest.mark.skipif(os.geteuid() != 0, reason="the sampler checks for root before memory")
def test_dpi_does_not_start_without_enough_available_memory() -> None:
    system = FakeSystem(
        files={"/sys/class/net/br-lan": "", "/proc/meminfo": "MemTotal: 126000 kB\nMemAvailable: 20480 kB\n"}
    )
    ctx = SampleContext(system, load_config(None, {"gateway_id": "gw-dpi"}), 0, 900)
    assert AppsSampler().available(ctx) == "not enough memory for DPI: MemAvailable 20 MiB < 32 MiB"


def test_the_conntrack_table_is_streamed_from_the_device_line_by_line(tmp_path: Path) -> None:
    from agent.system import LocalSystem, SystemAccessError

    path = tmp_path / "nf_conntrack"
    path.write_text(table(range(40000, 40005), 1000))
    system = LocalSystem()
    monitor = DpiMonitor(
        Classifier(),
        source=NoPackets(),
        read=system.read,
        read_lines=system.lines,  # type: ignore[arg-type]
        volumes="conntrack",
    )
    lines = system.lines(str(path))
    assert next(lines).startswith("ipv4 2 tcp") and len(list(lines)) == 4
    with pytest.raises(SystemAccessError):
        next(system.lines(str(tmp_path / "absent")))
    monitor._read_lines = lambda _: system.lines(str(path))
    monitor.tick()
    assert len(monitor._tracked) == 5
    monitor._read_lines = lambda _: system.lines(str(tmp_path / "absent"))
    monitor.tick()  # an unreadable table is logged, and the tracked entries are kept
    assert len(monitor._tracked) == 5
