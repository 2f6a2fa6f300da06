"""Wi-Fi radios (``Device.WiFi.Radio``): band, channel, width, power, noise and channel survey.

Survey counters (active, busy, receive, transmit milliseconds on the operating channel) go on
the wire cumulative; utilisation, idle and interference ratios are computed here between two
consecutive samples of the same radio on the same channel, and left out when a counter went
backwards (driver reload, reboot, channel change).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from agent.parsers.assoc import associations
from agent.parsers.device import Tools, read_net_dev, tools_for, ubus_call
from agent.parsers.wireless import WifiIface, wifi_interfaces, wifi_tools_missing
from agent.record import record
from agent.samplers.base import SampleContext, conform
from agent.system import System, SystemAccessError
from protocol.shapes import Radio


@record(frozen=True)
class Survey:
    """Cumulative channel times (ms) of one channel."""

    freq_mhz: int
    noise_dbm: int | None = None
    active_ms: int | None = None
    busy_ms: int | None = None
    rx_ms: int | None = None
    tx_ms: int | None = None
    in_use: bool = False


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_iwinfo_survey(reply: dict[str, Any]) -> list[Survey]:
    """``ubus call iwinfo survey {"device": X}`` (rpcd 2022 and later); it does not mark the channel in use."""
    out: list[Survey] = []
    for entry in reply.get("results") or []:
        if not isinstance(entry, dict) or _int(entry.get("mhz")) is None:
            continue
        out.append(
            Survey(
                freq_mhz=entry["mhz"],
                noise_dbm=_int(entry.get("noise")) or None,
                active_ms=_int(entry.get("active_time")),
                busy_ms=_int(entry.get("busy_time")),
                rx_ms=_int(entry.get("rx_time")),
                tx_ms=_int(entry.get("tx_time")),
            )
        )
    return out


_IW_SURVEY = {
    "channel active time": "active_ms",
    "channel busy time": "busy_ms",
    "channel receive time": "rx_ms",
    "channel transmit time": "tx_ms",
    "noise": "noise_dbm",
}


def parse_iw_survey_dump(text: str) -> list[Survey]:
    """``iw dev X survey dump``: one ``Survey data from X`` block per channel; ``[in use]`` marks ours."""
    out: list[Survey] = []
    values: dict[str, Any] | None = None

    def close() -> None:
        if values is not None and "freq_mhz" in values:
            out.append(Survey(**values))

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Survey data from"):
            close()
            values = {}
            continue
        if values is None or ":" not in line:
            continue
        key, _, rest = line.partition(":")
        match = re.search(r"-?\d+", rest)
        if key == "frequency" and match:
            values["freq_mhz"] = int(match.group(0))
            values["in_use"] = "[in use]" in rest
        elif key in _IW_SURVEY and match:
            values[_IW_SURVEY[key]] = int(match.group(0))
    close()
    return out


def pick_channel(entries: list[Survey], freq_mhz: int | None) -> Survey | None:
    """The entry of the operating channel: marked in use, else at the interface's frequency."""
    marked = [e for e in entries if e.in_use]
    if marked:
        return marked[0]
    return next((e for e in entries if freq_mhz is not None and e.freq_mhz == freq_mhz), None)


def _delta(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before


def survey_ratios(before: Survey, after: Survey) -> dict[str, float] | None:
    """Utilisation, idle and interference percentages between two readings of one channel.

    Interference is the busy time neither received nor sent by this radio (other networks,
    non-Wi-Fi noise). ``None`` when the counters went backwards or did not move.
    """
    if after.freq_mhz != before.freq_mhz:
        return None
    active, busy = _delta(before.active_ms, after.active_ms), _delta(before.busy_ms, after.busy_ms)
    if active is None or busy is None or active <= 0 or busy < 0:
        return None
    busy = min(busy, active)
    out = {
        "utilization_pct": round(100.0 * busy / active, 2),
        "idle_pct": round(100.0 * (active - busy) / active, 2),
    }
    rx, tx = _delta(before.rx_ms, after.rx_ms), _delta(before.tx_ms, after.tx_ms)
    if rx is not None and tx is not None and rx >= 0 and tx >= 0:
        out["interference_pct"] = round(100.0 * max(0, busy - rx - tx) / active, 2)
    return out


def read_survey(system: System, tools: Tools, iface: WifiIface) -> Survey | None:
    """The operating channel's survey: rpcd's iwinfo first, ``iw survey dump`` when it has none."""
    entries: list[Survey] = []
    if tools.has("ubus"):
        try:
            entries = parse_iwinfo_survey(ubus_call(system, "iwinfo", "survey", {"device": iface.name}))
        except SystemAccessError:
            entries = []  # rpcd before 2022 has no survey method
    if not entries and tools.has("iw"):
        try:
            entries = parse_iw_survey_dump(system.run(["iw", "dev", iface.name, "survey", "dump"]))
        except SystemAccessError:
            entries = []
    return pick_channel(entries, iface.freq_mhz)


def group_by_phy(ifaces: list[WifiIface]) -> dict[str, list[WifiIface]]:
    """Interfaces per radio, access points first (their channel is the radio's)."""
    out: dict[str, list[WifiIface]] = {}
    for iface in sorted(ifaces, key=lambda i: (i.mode != "ap", i.name)):
        if iface.mode != "monitor":
            out.setdefault(iface.phy, []).append(iface)
    return out


class RadiosSampler:
    """The ``radios`` section; leaves ``radio_by_iface`` in ``ctx.shared`` for the stations sampler."""

    name: ClassVar[str] = "radios"

    def __init__(self) -> None:
        self._last: dict[str, Survey] = {}

    def available(self, ctx: SampleContext) -> str | None:
        return wifi_tools_missing(tools_for(ctx.shared, ctx.system))

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        tools = tools_for(ctx.shared, ctx.system)
        ifaces = wifi_interfaces(ctx.shared, ctx.system)
        counters = {c.name: c for c in read_net_dev(ctx.shared, ctx.system)} if ifaces else {}
        assoc = associations(ctx.shared, ctx.system) if ifaces else {}
        rows: list[dict[str, Any]] = []
        by_iface: dict[str, dict[str, Any]] = {}
        for phy, members in sorted(group_by_phy(ifaces).items()):
            lead = members[0]
            row: dict[str, Any] = {
                "name": phy,
                "band": lead.band,
                "channel": lead.channel,
                "width_mhz": lead.width_mhz,
                "standard": lead.standard,
                "tx_power_dbm": lead.tx_power_dbm,
                "noise_dbm": lead.noise_dbm,
                "bytes_sent": sum(counters[m.name].bytes_sent for m in members if m.name in counters),
                "bytes_received": sum(counters[m.name].bytes_received for m in members if m.name in counters),
                "stations": sum(len(assoc.get(m.name, [])) for m in members if m.mode == "ap"),
            }
            survey = read_survey(ctx.system, tools, lead)
            if survey is not None:
                row.update(
                    channel_active_ms=survey.active_ms,
                    channel_busy_ms=survey.busy_ms,
                    channel_rx_ms=survey.rx_ms,
                    channel_tx_ms=survey.tx_ms,
                )
                if survey.noise_dbm:
                    row["noise_dbm"] = survey.noise_dbm
                previous = self._last.get(phy)
                if previous is not None:
                    row.update(survey_ratios(previous, survey) or {})
                self._last[phy] = survey
            else:
                self._last.pop(phy, None)
            rows.append(conform(Radio, row))
            for member in members:
                by_iface[member.name] = rows[-1]
        ctx.shared["radio_by_iface"] = by_iface
        return {"radios": rows}
