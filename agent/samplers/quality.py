"""Link quality: delay, jitter and loss to the WAN gateway, a configured target and LAN stations.

Pings with the system ``ping`` (BusyBox on OpenWrt, iputils elsewhere). BusyBox prints no
jitter, so jitter is computed from the individual round-trip times. Station probes are written
into the station rows the stations sampler left in ``ctx.shared`` (``delay_ms``, ``loss_pct``).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any, ClassVar

from agent.parsers.capacity import run_capacity_test
from agent.parsers.device import Tools, tools_for
from agent.parsers.procfs import parse_default_gateway
from agent.record import field, record
from agent.samplers.base import (
    MAX_STATION_PINGS,
    PING_COUNT,
    STATION_ACTIVE_MS,
    STATION_PING_COUNT,
    SampleContext,
    conform,
)
from agent.system import System, SystemAccessError
from protocol.shapes import LinkQuality

_RTT = re.compile(r"time[=<]\s*([\d.]+)\s*ms")
_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")


@record
class PingResult:
    """What one ping run measured."""

    sent: int
    received: int
    rtts_ms: list[float] = field(default_factory=list)


def parse_ping(text: str) -> PingResult:
    """BusyBox or iputils ping output; duplicate replies are not counted twice."""
    rtts = [
        float(m.group(1))
        for line in text.splitlines()
        if "DUP!" not in line
        for m in [_RTT.search(line)]
        if m
    ]
    summary = _SUMMARY.search(text)
    if summary:
        return PingResult(int(summary.group(1)), int(summary.group(2)), rtts)
    return PingResult(len(rtts), len(rtts), rtts)


def jitter_ms(rtts: list[float]) -> float | None:
    """Mean absolute difference of consecutive round-trip times (RFC 3550's idea, unsmoothed)."""
    if len(rtts) < 2:
        return None
    return round(sum(abs(b - a) for a, b in pairwise(rtts)) / (len(rtts) - 1), 3)


def summarize(target: str, address: str, result: PingResult) -> dict[str, Any]:
    """A LinkQuality row from one ping run."""
    row: dict[str, Any] = {
        "target": target,
        "address": address,
        "sent": result.sent,
        "received": result.received,
    }
    if result.sent > 0:
        row["loss_pct"] = round(100.0 * max(0, result.sent - result.received) / result.sent, 2)
    if result.rtts_ms:
        row["delay_ms"] = round(sum(result.rtts_ms) / len(result.rtts_ms), 3)
        row["delay_min_ms"] = min(result.rtts_ms)
        row["delay_max_ms"] = max(result.rtts_ms)
        row["jitter_ms"] = jitter_ms(result.rtts_ms)
    return row


def ping(system: System, address: str, count: int) -> PingResult:
    """Ping ``address`` ``count`` times, one second apart, waiting a second for the last reply.

    ping exits non-zero when nothing came back, which ``System.run`` reports as an error without
    the output: that is a run with every request lost.
    """
    return ping_all(system, [(address, count)])[0]


def _ping_argv(address: str, count: int) -> list[str]:
    return ["ping", "-c", str(count), "-W", "1", address]


def _ping_result(outcome: str | SystemAccessError, count: int) -> PingResult:
    if isinstance(outcome, SystemAccessError):
        if outcome.errno == 2:
            raise outcome  # ping itself is missing: the sampler is unavailable, not the target
        return PingResult(sent=count, received=0)
    return parse_ping(outcome)


def ping_all(system: System, targets: list[tuple[str, int]]) -> list[PingResult]:
    """Ping every (address, count) at once where the system can start them together.

    Run one after the other, the gateway and a dozen stations held the sampling loop for about
    40 s a window; started together they take as long as the slowest (a few seconds).
    """
    timeout = max((count for _, count in targets), default=0) + 5.0
    run_all = getattr(system, "run_all", None)
    if callable(run_all):
        outcomes: list[str | SystemAccessError] = run_all([_ping_argv(a, c) for a, c in targets], timeout)
    else:
        outcomes = []
        for address, count in targets:
            try:
                outcomes.append(system.run(_ping_argv(address, count), timeout=count + 5.0))
            except SystemAccessError as exc:
                outcomes.append(exc)
    return [_ping_result(outcome, count) for outcome, (_, count) in zip(outcomes, targets, strict=True)]


def stations_to_probe(stations: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Station rows with an address that were active lately, most recently active first."""
    active = [
        s
        for s in stations
        if s.get("ip") and s.get("inactive_ms", 0) <= STATION_ACTIVE_MS and s.get("medium") != "mesh"
    ]
    return sorted(active, key=lambda s: s.get("inactive_ms", 0))[:limit]


class QualitySampler:
    """The ``quality`` section, plus ``delay_ms``/``loss_pct`` on active station rows."""

    name: ClassVar[str] = "quality"

    def __init__(self) -> None:
        self._windows = 0

    def available(self, ctx: SampleContext) -> str | None:
        return None if tools_for(ctx.shared, ctx.system).has("ping") else "ping is not installed"

    def _gateway(self, ctx: SampleContext) -> str | None:
        gateway = ctx.shared.get("wan_gateway")
        if isinstance(gateway, str):
            return gateway
        try:
            found = parse_default_gateway(ctx.system.read("/proc/net/route"))
        except SystemAccessError:
            return None
        return found[1] if found and found[1] != "0.0.0.0" else None

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        if ctx.window_end <= ctx.window_start:
            return {}  # the priming read at start-up: probes would measure nothing useful
        self._windows += 1
        rows: list[dict[str, Any]] = []
        gateway = self._gateway(ctx)
        probes: list[tuple[str, str, int]] = []  # (target, address, count)
        if gateway:
            probes.append(("wan_gateway", gateway, PING_COUNT))
        if ctx.config.ping_target:
            probes.append(("internet", ctx.config.ping_target, PING_COUNT))
        stations = stations_to_probe(ctx.shared.get("stations") or [], MAX_STATION_PINGS)
        targets = [(address, count) for _, address, count in probes]
        targets += [(station["ip"], STATION_PING_COUNT) for station in stations]
        results = ping_all(ctx.system, targets)
        for (target, address, _), result in zip(probes, results, strict=False):
            rows.append(summarize(target, address, result))
        for station, result in zip(stations, results[len(probes) :], strict=True):
            if result.sent:
                station["loss_pct"] = round(100.0 * max(0, result.sent - result.received) / result.sent, 2)
            if result.rtts_ms:
                station["delay_ms"] = round(sum(result.rtts_ms) / len(result.rtts_ms), 3)
        self._capacity(ctx, tools_for(ctx.shared, ctx.system), rows)
        return {"quality": [conform(LinkQuality, row) for row in rows]}

    def _capacity(self, ctx: SampleContext, tools: Tools, rows: list[dict[str, Any]]) -> None:
        every = ctx.config.capacity_test_windows
        if every <= 0 or self._windows % every:
            return
        server = ctx.config.capacity_test_server
        url = ctx.config.capacity_test_url
        found = run_capacity_test(ctx.system, tools, server, url)
        if found is None:
            return
        internet = next((r for r in rows if r["target"] == "internet"), None)
        if internet is not None:
            internet["bandwidth_kbps"] = found["bandwidth_kbps"]
        else:
            rows.append(found)
