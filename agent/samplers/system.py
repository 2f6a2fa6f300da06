"""CPU, memory, load, uptime, temperature and board identity (``Device.DeviceInfo``).

The agent's own health (RSS, CPU seconds, outbox depth) is added by the runner.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.parsers.board import read_board, read_temperature
from agent.parsers.device import tools_for
from agent.parsers.procfs import (
    CpuTimes,
    cpu_usage_pct,
    parse_loadavg,
    parse_meminfo,
    parse_proc_stat,
    parse_uptime,
)
from agent.samplers.base import SampleContext

#: Board identity is read again after this many windows (a day at 15 minutes): it rarely changes.
BOARD_REFRESH_WINDOWS = 96


class SystemSampler:
    """Reads /proc/stat, /proc/meminfo, /proc/loadavg, /proc/uptime, thermal sensors and the board."""

    name: ClassVar[str] = "system"

    def __init__(self) -> None:
        self._last_cpu: CpuTimes | None = None
        self._board: dict[str, str] | None = None
        self._board_age = 0

    def available(self, ctx: SampleContext) -> str | None:
        return None if ctx.system.exists("/proc/stat") else "/proc/stat is missing (not Linux?)"

    def _board_for(self, ctx: SampleContext) -> dict[str, str]:
        if self._board is None or self._board_age >= BOARD_REFRESH_WINDOWS:
            self._board = read_board(ctx.system, tools_for(ctx.shared, ctx.system))
            self._board_age = 0
        self._board_age += 1
        return self._board

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        times, cpus = parse_proc_stat(ctx.system.read("/proc/stat"))
        mem = parse_meminfo(ctx.system.read("/proc/meminfo"))
        load1, load5, load15 = parse_loadavg(ctx.system.read("/proc/loadavg"))
        section: dict[str, Any] = {
            "cpu_count": cpus,
            "memory_total_kib": mem.get("MemTotal", 0),
            "memory_free_kib": mem.get("MemFree", 0),
            "load1": load1,
            "load5": load5,
            "load15": load15,
            "uptime_s": parse_uptime(ctx.system.read("/proc/uptime")),
        }
        if "MemAvailable" in mem:
            section["memory_available_kib"] = mem["MemAvailable"]
        if self._last_cpu is not None:
            # None when the counters went backwards (a reboot between readings): no figure.
            usage = cpu_usage_pct(self._last_cpu, times)
            if usage is not None:
                section["cpu_usage_pct"] = usage
        self._last_cpu = times
        temperature = read_temperature(ctx.system)
        if temperature is not None:
            section["temperature_c"] = temperature
        board = self._board_for(ctx)
        if board:
            section["board"] = dict(board)
        return {"system": section}
