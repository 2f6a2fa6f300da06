"""The ``apps`` sampler: runs the DPI monitor in a thread and reports each window's usage.

The capture needs root (AF_PACKET) and a LAN interface (``dpi_interface``, default
``br-lan``). Where either is missing the sampler is ``unavailable`` with the reason and
the rest of the agent carries on.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from agent.dpi.dhcp import annotate_stations
from agent.logger import Logger

if TYPE_CHECKING:  # agent.samplers registers this sampler: a run-time import would be a cycle
    from agent.samplers.base import SampleContext

log = Logger(__name__)

#: Bytes moved are attributed at least this often (conntrack counters are read then).
TICK_S = 30.0
#: DPI starts only with this much MemAvailable: its tables take up to ~8 MiB on a busy home,
#: and on a 128 MB router hostapd and dnsmasq come first.
MIN_AVAILABLE_KIB = 32 * 1024


class AppsSampler:
    """Per station and category usage from the DPI module (``apps`` section)."""

    name: ClassVar[str] = "apps"

    def __init__(self) -> None:
        self._monitor: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error = ""

    def available(self, ctx: SampleContext) -> str | None:
        iface = ctx.config.dpi_interface
        if not iface:
            return "DPI is disabled (dpi_interface is empty)"
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return "the capture needs root (AF_PACKET)"
        if not ctx.system.exists(f"/sys/class/net/{iface}"):
            return f"LAN interface {iface} does not exist"
        if self._error:
            return self._error
        if self._thread is None:
            short = _memory_short(ctx)
            if short:
                return short
            self._start(ctx)
        return None if self._monitor is not None else self._error or "DPI did not start"

    def _start(self, ctx: SampleContext) -> None:
        from agent.dpi.classifier import Classifier
        from agent.dpi.monitor import DpiMonitor

        extra = ctx.config.dpi_extra_domains
        try:
            tables = [(extra, ctx.system.read(extra))] if extra else []
            classifier = Classifier(operator_domains=ctx.config.operator_domains, extra_tables=tables)
        except (OSError, ValueError) as exc:
            self._error = f"cannot load the operator's domain table: {exc}"
            return
        try:
            self._monitor = DpiMonitor(
                classifier,
                interface=ctx.config.dpi_interface,
                read=ctx.system.read,
                read_lines=getattr(ctx.system, "lines", None),
                volumes=ctx.config.dpi_volumes,
                debug_events=ctx.config.dpi_debug_events,
                unclassified_top=ctx.config.dpi_unclassified_domains,
            )
        except (OSError, ValueError) as exc:
            self._error = f"cannot start the capture on {ctx.config.dpi_interface}: {exc}"
            return
        self._thread = threading.Thread(target=self._loop, name="dpi", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        elapsed = 0.0
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._monitor.poll(timeout=0.0)
                self._stop.wait(0.2)
                elapsed += 0.2
                if elapsed >= TICK_S:
                    elapsed = 0.0
                    with self._lock:
                        self._monitor.tick()
            except Exception as exc:  # the capture thread must not die silently
                self._error = f"DPI stopped: {type(exc).__name__}: {exc}"
                log.error("%s", self._error)
                return

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        with self._lock:
            apps: list[dict[str, Any]] = self._monitor.report()
            details: dict[str, dict[str, str]] = self._monitor.station_fields()
            unclassified = self._monitor.unclassified_report()
        # The stations sampler (earlier in the registry) left its rows in ctx.shared, as it does for quality.
        annotate_stations(ctx.shared.get("stations") or [], details)
        if unclassified:  # opt-in (dpi_unclassified_domains): absent unless configured
            return {"apps": apps, "unclassified": unclassified}
        return {"apps": apps}

    def close(self) -> None:
        """Stop the capture thread (tests and clean shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._monitor is not None:
            self._monitor.close()


def _memory_short(ctx: SampleContext) -> str | None:
    """Why memory is too short to start DPI, or None (also when /proc/meminfo cannot tell)."""
    try:
        for line in ctx.system.read("/proc/meminfo").splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1])
                if available < MIN_AVAILABLE_KIB:
                    return f"not enough memory for DPI: MemAvailable {available // 1024} MiB < {MIN_AVAILABLE_KIB // 1024} MiB"
                return None
    except (OSError, ValueError, IndexError):
        return None
    return None
