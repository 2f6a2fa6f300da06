"""CPU, memory, load, uptime and the agent's own health (``Device.DeviceInfo``)."""

from __future__ import annotations

from typing import Any, ClassVar

from agent.samplers.base import SampleContext
from agent.samplers.procfs import CpuTimes, cpu_usage_pct, parse_loadavg, parse_meminfo, parse_proc_stat, parse_uptime


class SystemSampler:
    """Reads /proc/stat, /proc/meminfo, /proc/loadavg and /proc/uptime."""

    name: ClassVar[str] = "system"

    def __init__(self) -> None:
        self._last_cpu: CpuTimes | None = None

    def available(self, ctx: SampleContext) -> str | None:
        return None if ctx.system.exists("/proc/stat") else "/proc/stat is missing (not Linux?)"

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
            usage = cpu_usage_pct(self._last_cpu, times)
            if usage is not None:
                section["cpu_usage_pct"] = usage
        self._last_cpu = times
        return {"system": section}
