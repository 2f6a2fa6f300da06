"""The agent's footprint for a home with 12 Wi-Fi stations on 3 radios: report size, RSS, CPU.

Runs the real samplers over a generated gateway (the constructed Archer C6 fixture set, grown to
a third radio on 6 GHz and twelve stations) through the recorded-system fake, encodes each
report with :func:`protocol.codec.encode`, and prints one JSON object. Figures, never a verdict.

CPU is the Python side only (parsing, joining, encoding): on a router each window also forks
about ``commands_per_cycle`` short commands (ubus, iw, ping), which this does not run.

    python bench/agent.py --json [--cycles 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config import AgentConfig  # noqa: E402
from agent.reporter import Reporter  # noqa: E402
from agent.samplers import SampleContext, build_samplers  # noqa: E402
from bench.footprint.home import WINDOW, home  # noqa: E402
from protocol.codec import encode, envelope  # noqa: E402
from protocol.topics import Kind  # noqa: E402


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(cycles: int) -> dict[str, Any]:
    """Run ``cycles`` windows after a priming read and return the figures."""
    config = AgentConfig(
        gateway_id="gw-bench", ping_target="", competitor_ssid_patterns=("Orange=Livebox-*",)
    )
    reporter = Reporter(build_samplers())
    start = 1_795_437_000
    priming = home(0)
    began = time.process_time()
    reporter.collect(SampleContext(priming, config, start, start, monotonic=0.0))  # also loads the OUI table
    priming_s = time.process_time() - began
    cpu_s: list[float] = []
    sizes: dict[str, tuple[int, int]] = {}
    commands = calls = 0
    for step in range(1, cycles + 1):
        system = home(step)  # built outside the timed part: generating the home is not the agent's cost
        window = (start + (step - 1) * WINDOW, start + step * WINDOW)
        ctx = SampleContext(system, config, window[0], window[1], monotonic=float(step * WINDOW))
        began = time.process_time()
        body = reporter.collect(ctx)
        message = envelope(
            Kind.REPORT,
            "gw-bench",
            epoch=1,
            seq=step,
            window_start=window[0],
            window_end=window[1],
            uptime_s=86_400 + step * WINDOW,
            sent_at=window[1],
            body=body,
        )
        plain, packed = encode(message, compress=False), encode(message, compress=True)
        cpu_s.append(time.process_time() - began)
        scanned = "neighbours" in body
        sizes.setdefault("with_scan" if scanned else "without_scan", (len(plain), len(packed)))
        if not scanned:
            calls = len(system.calls)
            commands = sum(1 for c in system.calls if c.split(" ", 1)[0] in _COMMANDS)
        assert len(body["stations"]) == 13 and len(body["radios"]) == 3, (
            len(body["stations"]),
            len(body["radios"]),
        )
    return {
        "stations": 12,
        "wired_terminals": 1,
        "radios": 3,
        "cycles": cycles,
        "report_bytes": sizes["without_scan"][0],
        "report_zlib_bytes": sizes["without_scan"][1],
        "report_bytes_with_scan": sizes["with_scan"][0],
        "report_zlib_bytes_with_scan": sizes["with_scan"][1],
        "cpu_ms_priming_read": round(1000 * priming_s, 2),
        "cpu_ms_per_cycle_median": round(1000 * statistics.median(cpu_s), 2),
        "cpu_ms_per_cycle_max": round(1000 * max(cpu_s), 2),
        "rss_kib": _rss_kib(),
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "device_accesses_per_cycle": calls,
        "commands_per_cycle": commands,
        "python": sys.version.split()[0],
    }


_COMMANDS = ("ubus", "iw", "ping", "bridge", "brctl", "batctl", "ip", "curl", "iperf3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output too)")
    parser.add_argument("--cycles", type=int, default=30, help="windows to sample (default 30)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(max(args.cycles, 4)), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
