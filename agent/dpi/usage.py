"""Aggregate named traffic into the report's ``apps`` section: per station, per category, per window.

Each entry: ``{"station", "category", "bytes_up", "bytes_down", "flows", "active_minutes", "top_apps"}``, and
``"methods"``: bytes by how the DPI named them (``sni``, ``dns_cache``, ``port``, ``payload``...; protocol 1.1).
In privacy mode (the default) nothing else leaves the home: no hostname, URL or remote address. Raw flow
events (with hostname and remote endpoint) exist only for debugging and only when asked for.

Bytes are attributed when the caller accounts a counter delta (every tick of the monitor, at most a
minute apart), so ``active_minutes`` counts the distinct wall-clock minutes in which a station moved bytes
in that category. Name lookups and LAN discovery (DNS, mDNS, DHCP...) are network overhead: they count
under ``other`` whatever name they carried.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.dpi.flows import Flow
from agent.dpi.packet import TCP, format_endpoint, format_mac

OVERHEAD_L7 = frozenset({"dns", "dhcp", "mdns", "llmnr", "netbios", "ssdp"})
TOP_APPS = 3


@dataclass(slots=True)
class _Bucket:
    bytes_up: int = 0
    bytes_down: int = 0
    flows: int = 0
    minutes: set[int] = field(default_factory=set)
    app_bytes: Counter[str] = field(default_factory=Counter)
    method_bytes: Counter[str] = field(default_factory=Counter)


def usage_category(flow: Flow) -> tuple[str | None, str]:
    """(app, category) under which a flow's bytes are reported."""
    if flow.l7 in OVERHEAD_L7:
        return (flow.l7, "other")
    return (flow.app, flow.category or "other")


def usage_method(flow: Flow) -> str:
    """How a flow's app was found (its provenance in the report): ``Flow.app_source``; ``protocol`` for
    name lookups and LAN discovery counted as overhead; ``default`` when nothing named it."""
    if flow.l7 in OVERHEAD_L7:
        return "protocol"
    return flow.app_source or "default"


class UsageWindow:
    """Per (station, category) totals for the current report window."""

    def __init__(self, top_apps: int = TOP_APPS) -> None:
        self.top_apps = top_apps
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def add(
        self,
        station: str,
        app: str | None,
        category: str,
        up: int,
        down: int,
        ts: float,
        new_flow: bool = False,
        method: str | None = None,
    ) -> None:
        """Attribute a counter delta (and optionally one new flow) observed at ``ts``; ``method`` is how the
        flow was named (counted per method in the entry's ``methods``)."""
        if up <= 0 and down <= 0 and not new_flow:
            return
        bucket = self._buckets.get((station, category))
        if bucket is None:
            bucket = self._buckets[(station, category)] = _Bucket()
        bucket.bytes_up += max(up, 0)
        bucket.bytes_down += max(down, 0)
        if new_flow:
            bucket.flows += 1
        if up > 0 or down > 0:
            bucket.minutes.add(int(ts // 60))
            if app:
                bucket.app_bytes[app] += max(up, 0) + max(down, 0)
            if method:
                bucket.method_bytes[method] += max(up, 0) + max(down, 0)

    def report(self, reset: bool = True) -> list[dict[str, Any]]:
        """The ``apps`` section, ordered by station then bytes; starts a new window if ``reset``."""
        rows: list[dict[str, Any]] = []
        for (station, category), bucket in self._buckets.items():
            rows.append(
                {
                    "station": station,
                    "category": category,
                    "bytes_up": bucket.bytes_up,
                    "bytes_down": bucket.bytes_down,
                    "flows": bucket.flows,
                    "active_minutes": len(bucket.minutes),
                    "top_apps": [app for app, _ in bucket.app_bytes.most_common(self.top_apps)],
                }
            )
            if bucket.method_bytes:
                rows[-1]["methods"] = dict(sorted(bucket.method_bytes.items()))
        rows.sort(key=lambda r: (r["station"], -(r["bytes_up"] + r["bytes_down"]), r["category"]))
        if reset:
            self._buckets = {}
        return rows


def flow_event(flow: Flow, station: str, station_is_client: bool = True) -> dict[str, Any]:
    """Debug flow event (opt-in only: it carries the hostname and the remote endpoint)."""
    app, category = usage_category(flow)
    remote = (flow.server, flow.sport) if station_is_client else (flow.client, flow.cport)
    up, down = (flow.bytes_up, flow.bytes_down) if station_is_client else (flow.bytes_down, flow.bytes_up)
    return {
        "type": "flow",
        "station": station,
        "app": app or "unknown",
        "category": category,
        "host": flow.host or "",
        "remote": format_endpoint(*remote),
        "l4": "TCP" if flow.proto == TCP else "UDP",
        "bytes_up": up,
        "bytes_down": down,
    }


def station_of(flow: Flow, station_is_client: bool) -> str | None:
    """The station's MAC address as text, if the capture saw it."""
    mac = flow.client_mac if station_is_client else flow.server_mac
    return format_mac(mac) if mac else None
