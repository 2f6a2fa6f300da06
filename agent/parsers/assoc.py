"""Associated stations per Wi-Fi interface (``Device.WiFi.AccessPoint.{i}.AssociatedDevice``).

Three sources, merged per MAC: ``ubus call iwinfo assoclist`` (signal, noise, rates, retries,
expected throughput), hostapd's ``get_clients`` (airtime, capabilities) and, when ubus has
neither, ``iw dev X station dump``. All rates are kbps, airtime ms, byte counts cumulative and
seen from the access point: ``bytes_sent`` went to the station.
"""

from __future__ import annotations

import re
from typing import Any

from agent.parsers.device import Tools, hostapd_objects, parse_ubus_list, tools_for, ubus_call
from agent.parsers.wireless import STANDARDS, WifiIface, wifi_interfaces
from agent.record import fields, record
from agent.system import System, SystemAccessError


@record
class Assoc:
    """One associated station as one source saw it; ``None`` where the source is silent."""

    mac: str
    interface: str
    signal_dbm: int | None = None
    noise_dbm: int | None = None
    tx_rate_kbps: int | None = None
    rx_rate_kbps: int | None = None
    expected_kbps: int | None = None  # the rate control's estimate of achievable throughput
    bytes_sent: int | None = None
    bytes_received: int | None = None
    packets_sent: int | None = None
    packets_received: int | None = None
    retries: int | None = None
    failed: int | None = None
    airtime_ms: int | None = None
    connected_s: int | None = None
    inactive_ms: int | None = None
    standard: str | None = None
    mesh_plink: str | None = None  # 802.11s peer link state; set only for mesh peers

    def merge(self, other: Assoc) -> None:
        """Fill the figures this source lacks from ``other``."""
        for f in fields(self):
            if getattr(self, f.name) is None:
                setattr(self, f.name, getattr(other, f.name))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _table(reply: dict[str, Any], key: str) -> dict[str, Any]:
    part = reply.get(key)
    return part if isinstance(part, dict) else {}


def _pair(reply: dict[str, Any], key: str, side: str) -> int | None:
    part = reply.get(key)
    return _int(part.get(side)) if isinstance(part, dict) else None


def best_standard(flags: dict[str, Any]) -> str | None:
    """``be``/``ax``/``ac``/``n`` from rate or capability flags (``eht``, ``he``, ``vht``, ``ht``)."""
    for key, standard in (("eht", "be"), ("he", "ax"), ("vht", "ac"), ("ht", "n")):
        if flags.get(key) is True:
            return standard
    return None


def _better(a: str | None, b: str | None) -> str | None:
    ranked = [s for s in (a, b) if s in STANDARDS]
    return min(ranked, key=STANDARDS.index) if ranked else None


def parse_iwinfo_assoclist(interface: str, reply: dict[str, Any]) -> list[Assoc]:
    """``ubus call iwinfo assoclist {"device": interface}``: ``rx`` is what the AP received."""
    out: list[Assoc] = []
    for entry in reply.get("results") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("mac"), str):
            continue
        rx, tx = _table(entry, "rx"), _table(entry, "tx")
        signal, noise, thr = _int(entry.get("signal")), _int(entry.get("noise")), _int(entry.get("thr"))
        plink = entry.get("mesh plink")
        out.append(
            Assoc(
                mac=entry["mac"].lower(),
                interface=interface,
                signal_dbm=signal or None,  # 0 means unknown
                noise_dbm=noise or None,
                tx_rate_kbps=_int(tx.get("rate")),
                rx_rate_kbps=_int(rx.get("rate")),
                expected_kbps=thr or None,
                bytes_sent=_int(tx.get("bytes")),
                bytes_received=_int(rx.get("bytes")),
                packets_sent=_int(tx.get("packets")),
                packets_received=_int(rx.get("packets")),
                retries=_int(tx.get("retries")),
                failed=_int(tx.get("failed")),
                connected_s=_int(entry.get("connected_time")),
                inactive_ms=_int(entry.get("inactive")),
                standard=_better(best_standard(tx), best_standard(rx)),
                mesh_plink=plink if isinstance(plink, str) and plink else None,
            )
        )
    return out


def parse_hostapd_clients(interface: str, reply: dict[str, Any]) -> list[Assoc]:
    """``ubus call hostapd.<interface> get_clients``: airtime is in microseconds there."""
    out: list[Assoc] = []
    clients = reply.get("clients")
    if not isinstance(clients, dict):
        return out
    for mac, entry in clients.items():
        if not isinstance(entry, dict) or entry.get("assoc") is False:
            continue
        air_rx, air_tx = _pair(entry, "airtime", "rx"), _pair(entry, "airtime", "tx")
        airtime = (air_rx or 0) + (air_tx or 0) if air_rx is not None or air_tx is not None else None
        out.append(
            Assoc(
                mac=mac.lower(),
                interface=interface,
                signal_dbm=_int(entry.get("signal")) or None,
                tx_rate_kbps=_pair(entry, "rate", "tx"),
                rx_rate_kbps=_pair(entry, "rate", "rx"),
                bytes_sent=_pair(entry, "bytes", "tx"),
                bytes_received=_pair(entry, "bytes", "rx"),
                packets_sent=_pair(entry, "packets", "tx"),
                packets_received=_pair(entry, "packets", "rx"),
                airtime_ms=airtime // 1000 if airtime is not None else None,
                connected_s=_int(entry.get("connected_time")),
                standard=best_standard(entry),
            )
        )
    return out


def _first_number(text: str) -> float | None:
    match = re.search(r"-?\d+(?:\.\d+)?", text)
    return float(match.group(0)) if match else None


def _bitrate_kbps(text: str) -> int | None:
    value = _first_number(text)
    return round(value * 1000) if value is not None and "MBit/s" in text else None


def _rate_standard(text: str) -> str | None:
    for marker, standard in (("EHT-MCS", "be"), ("HE-MCS", "ax"), ("VHT-MCS", "ac"), ("MCS", "n")):
        if marker in text:
            return standard
    return None


def parse_iw_station_dump(text: str) -> list[Assoc]:
    """``iw dev X station dump``: one ``Station <mac> (on <if>)`` block per station."""
    out: list[Assoc] = []
    current: Assoc | None = None
    durations: dict[str, int] = {}

    def close() -> None:
        if current is not None and durations:
            current.airtime_ms = sum(durations.values()) // 1000

    for raw in text.splitlines():
        if raw.startswith("Station "):
            close()
            match = re.match(r"Station ([0-9A-Fa-f:]{17}) \(on ([^)]+)\)", raw)
            current = Assoc(mac=match.group(1).lower(), interface=match.group(2)) if match else None
            durations = {}
            if current is not None:
                out.append(current)
            continue
        if current is None or ":" not in raw or raw.startswith("\t\t"):
            continue  # per-TID sub-blocks (two tabs) repeat counters we already have
        key, _, value = raw.strip().partition(":")
        value = value.strip()
        number = _first_number(value)
        whole = int(number) if number is not None else None
        if key == "signal":
            current.signal_dbm = whole
        elif key == "tx bitrate":
            current.tx_rate_kbps = _bitrate_kbps(value)
            current.standard = _better(current.standard, _rate_standard(value))
        elif key == "rx bitrate":
            current.rx_rate_kbps = _bitrate_kbps(value)
            current.standard = _better(current.standard, _rate_standard(value))
        elif key == "expected throughput" and number is not None:
            current.expected_kbps = round(number * 1000)  # printed in Mbps
        elif key in ("tx duration", "rx duration") and whole is not None:
            durations[key] = whole  # microseconds
        elif key == "mesh plink":
            current.mesh_plink = value or None
        elif whole is not None and key in _IW_COUNTERS:
            setattr(current, _IW_COUNTERS[key], whole)
    close()
    return out


_IW_COUNTERS = {
    "inactive time": "inactive_ms",
    "rx bytes": "bytes_received",
    "rx packets": "packets_received",
    "tx bytes": "bytes_sent",
    "tx packets": "packets_sent",
    "tx retries": "retries",
    "tx failed": "failed",
    "connected time": "connected_s",
}


def _from_ubus(system: System, iface: str, hostapd: dict[str, str]) -> dict[str, Assoc] | None:
    """Stations of ``iface`` from iwinfo and hostapd merged; ``None`` if neither answered."""
    by_mac: dict[str, Assoc] = {}
    answered = False
    try:
        reply = ubus_call(system, "iwinfo", "assoclist", {"device": iface})
        by_mac = {a.mac: a for a in parse_iwinfo_assoclist(iface, reply)}
        answered = True
    except SystemAccessError:
        pass  # no rpcd-mod-iwinfo
    if iface in hostapd:
        try:
            reply = ubus_call(system, hostapd[iface], "get_clients")
            answered = True
        except SystemAccessError:
            reply = {}
        for extra in parse_hostapd_clients(iface, reply):
            by_mac.setdefault(extra.mac, Assoc(mac=extra.mac, interface=iface)).merge(extra)
    return by_mac if answered else None


def read_associations(system: System, tools: Tools, ifaces: list[WifiIface]) -> dict[str, list[Assoc]]:
    """Stations per access-point or mesh interface, from every source the device has."""
    hostapd: dict[str, str] = {}
    if tools.has("ubus"):
        try:
            hostapd = hostapd_objects(parse_ubus_list(system.run(["ubus", "list"])))
        except SystemAccessError:
            hostapd = {}
    out: dict[str, list[Assoc]] = {}
    for iface in ifaces:
        if iface.mode not in ("ap", "mesh"):
            continue
        by_mac = _from_ubus(system, iface.name, hostapd) if tools.has("ubus") else None
        if by_mac is None and tools.has("iw"):
            try:
                dump = system.run(["iw", "dev", iface.name, "station", "dump"])
                by_mac = {a.mac: a for a in parse_iw_station_dump(dump)}
            except SystemAccessError:
                by_mac = None
        for assoc in (by_mac or {}).values():
            assoc.interface = iface.name  # the interface asked about, whatever name the source printed
        out[iface.name] = list((by_mac or {}).values())
    return out


def associations(shared: dict[str, Any], system: System) -> dict[str, list[Assoc]]:
    """:func:`read_associations` once per window, shared by the radios and stations samplers."""
    found = shared.get("assoc")
    if not isinstance(found, dict):
        tools = tools_for(shared, system)
        found = shared["assoc"] = read_associations(system, tools, wifi_interfaces(shared, system))
    return found
