"""Neighbouring Wi-Fi networks from a periodic scan, with competitor-operator hints.

Scans take a radio off its channel for a moment, so they run every
``neighbour_scan_windows`` windows (configuration; default 4),
one scan per radio; other windows carry no ``neighbours`` section. Operator hints come from
configured SSID patterns and OUIs, written ``Operator=pattern`` (``Orange=Livebox-*``,
``Orange=a0:1b:29``); a pattern without ``Operator=`` names itself.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, ClassVar

from agent.parsers.device import Tools, tools_for, ubus_call
from agent.parsers.wireless import WifiIface, band_of, channel_of, wifi_interfaces, wifi_tools_missing
from agent.samplers.base import MAX_NEIGHBOURS, SampleContext, conform
from agent.samplers.radios import group_by_phy
from agent.system import System, SystemAccessError
from protocol.shapes import Neighbour

_GHZ = {2: "2.4GHz", 5: "5GHz", 6: "6GHz", 60: "60GHz"}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_iwinfo_scan(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """``ubus call iwinfo scan {"device": X}``; older rpcd gives no ``mhz``/``band``."""
    out: list[dict[str, Any]] = []
    for entry in reply.get("results") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("bssid"), str):
            continue
        mhz, channel, band = _int(entry.get("mhz")), _int(entry.get("channel")), _int(entry.get("band"))
        if band in _GHZ:
            band_name: str | None = _GHZ[band]
        elif mhz:
            band_name = band_of(mhz)
        else:
            band_name = "2.4GHz" if channel and channel <= 14 else "5GHz" if channel else None
        ssid = entry.get("ssid")
        out.append(
            {
                "ssid": ssid if isinstance(ssid, str) and ssid else None,
                "bssid": entry["bssid"].lower(),
                "channel": channel or channel_of(mhz),
                "band": band_name,
                "signal_dbm": _int(entry.get("signal")),
            }
        )
    return out


def _ssid(raw: str) -> str | None:
    # iw escapes unprintable bytes as \xNN; a hidden network sends an empty or all-zero SSID.
    text = raw.strip()
    if not text or re.fullmatch(r"(\\x00)+", text):
        return None
    return text[:64]


def parse_iw_scan(text: str) -> list[dict[str, Any]]:
    """``iw dev X scan``: one ``BSS <mac>(on X)`` block per network."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for raw in text.splitlines():
        if raw.startswith("BSS "):
            match = re.match(r"BSS ([0-9a-fA-F:]{17})", raw)
            current = {"bssid": match.group(1).lower(), "ssid": None} if match else None
            if current is not None:
                out.append(current)
            continue
        if current is None:
            continue
        line = raw.strip()
        if line.startswith("freq:"):
            mhz = round(float(line.split()[1]))
            current.update(band=band_of(mhz), channel=channel_of(mhz))
        elif line.startswith("signal:"):
            current["signal_dbm"] = round(float(line.split()[1]))
        elif line.startswith("SSID:") and raw.startswith("\tSSID:"):
            current["ssid"] = _ssid(line[5:])
    return out


def parse_patterns(entries: tuple[str, ...]) -> list[tuple[str, str]]:
    """``Operator=pattern`` entries as ``(operator, pattern)``; a bare pattern is its own operator."""
    out: list[tuple[str, str]] = []
    for entry in entries:
        operator, sep, pattern = entry.partition("=")
        if sep and operator.strip() and pattern.strip():
            out.append((operator.strip(), pattern.strip()))
        elif entry.strip():
            out.append((entry.strip().strip("*?"), entry.strip()))
    return out


def operator_hint(
    row: dict[str, Any], ssids: list[tuple[str, str]], ouis: list[tuple[str, str]]
) -> str | None:
    """The competitor operator an SSID pattern or BSSID prefix points to, if any."""
    ssid = (row.get("ssid") or "").lower()
    for operator, pattern in ssids:
        if ssid and fnmatch.fnmatchcase(ssid, pattern.lower()):
            return operator
    bssid = (row.get("bssid") or "").lower()
    for operator, prefix in ouis:
        if bssid.startswith(prefix.lower()):
            return operator
    return None


def scan(system: System, tools: Tools, iface: WifiIface) -> list[dict[str, Any]]:
    """One scan on ``iface``: iwinfo (which adds a temporary station interface when needed), else iw."""
    if tools.has("ubus"):
        try:
            return parse_iwinfo_scan(ubus_call(system, "iwinfo", "scan", {"device": iface.name}))
        except SystemAccessError:
            pass
    if tools.has("iw"):
        # ap-force: an access point may scan too; the driver goes off-channel briefly.
        argv = ["iw", "dev", iface.name, "scan"] + (["ap-force"] if iface.mode == "ap" else [])
        try:
            return parse_iw_scan(system.run(argv, timeout=30.0))
        except SystemAccessError:
            pass
    return []


class NeighboursSampler:
    """The ``neighbours`` section, every ``neighbour_scan_windows`` windows."""

    name: ClassVar[str] = "neighbours"

    def __init__(self) -> None:
        self._windows = 0

    def available(self, ctx: SampleContext) -> str | None:
        if ctx.config.neighbour_scan_windows <= 0:
            return "neighbour scans are turned off (neighbour_scan_windows = 0)"
        return wifi_tools_missing(tools_for(ctx.shared, ctx.system))

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        if ctx.window_end <= ctx.window_start:
            return {}  # the priming read at start-up
        every = ctx.config.neighbour_scan_windows
        self._windows += 1
        if (self._windows - 1) % max(every, 1):
            return {}
        tools = tools_for(ctx.shared, ctx.system)
        ifaces = wifi_interfaces(ctx.shared, ctx.system)
        own = {i.mac for i in ifaces if i.mac}
        ssids = parse_patterns(ctx.config.competitor_ssid_patterns)
        ouis = parse_patterns(ctx.config.competitor_ouis)
        seen: dict[str, dict[str, Any]] = {}
        for members in group_by_phy(ifaces).values():
            for row in scan(ctx.system, tools, members[0]):
                if row["bssid"] in own:
                    continue
                best = seen.get(row["bssid"])
                if best is None or (row.get("signal_dbm") or -200) > (best.get("signal_dbm") or -200):
                    seen[row["bssid"]] = row
        rows = sorted(seen.values(), key=lambda r: -(r.get("signal_dbm") or -200))[:MAX_NEIGHBOURS]
        for row in rows:
            row["operator"] = operator_hint(row, ssids, ouis)
        return {"neighbours": [conform(Neighbour, row) for row in rows]}
