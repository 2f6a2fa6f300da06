"""The terminal inventory (``Device.Hosts.Host`` joined with ``Device.WiFi.AssociatedDevice``).

Every associated Wi-Fi station, every MAC the LAN bridges learned on a wired or mesh port, and
every complete ARP entry on the LAN, joined on the MAC with DHCP leases (hostname, address), the
OUI table (vendor) and the randomised-MAC flag. Mesh peers (other access points) are left to the
topology sampler. Wi-Fi counters stay cumulative; the reachable-bandwidth estimate uses the
retry and airtime deltas since the previous sample.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.parsers.assoc import Assoc, associations
from agent.parsers.device import Tools, tools_for
from agent.parsers.leases import (
    FdbEntry,
    Lease,
    Neighbour,
    parse_brctl_showmacs,
    parse_bridge_fdb,
    parse_dhcp_leases,
    parse_ip_neigh,
    parse_proc_net_arp,
)
from agent.parsers.procfs import counter_delta
from agent.parsers.wireless import WifiIface, wifi_interfaces, wifi_tools_missing
from agent.samplers.base import SampleContext, conform
from agent.samplers.topology import mesh_clients
from agent.system import System, SystemAccessError
from protocol.oui import is_randomized, vendor_of
from protocol.shapes import Station

LEASE_FILES = ("/tmp/dhcp.leases", "/var/lib/misc/dnsmasq.leases")
#: Share of the PHY rate left for payload once preambles, ACKs and contention are paid (aggregated
#: 802.11n and later; measured goodput is usually 55-70 % of the link rate).
MAC_EFFICIENCY = 0.6
_MEDIUM = {"2.4GHz": "2.4GHz", "5GHz": "5GHz", "6GHz": "6GHz"}


def retry_ratio(d_packets: int | None, d_retries: int | None) -> float | None:
    """Retransmissions per transmission attempt, or ``None`` when nothing was sent."""
    if d_packets is None or d_retries is None or d_packets < 0 or d_retries < 0:
        return None
    attempts = d_packets + d_retries
    return d_retries / attempts if attempts > 0 else None


def reachable_kbps(
    tx_rate_kbps: int | None, expected_kbps: int | None, retries: float | None, free_airtime: float
) -> int | None:
    """What one more flow to this station could get, in kbps.

    The rate control's expected throughput already prices in failed attempts; without it the
    PHY rate is scaled by :data:`MAC_EFFICIENCY` and by the share of attempts that succeed. Either
    is then scaled by the airtime the channel leaves free for this station.
    """
    if expected_kbps:
        base = float(expected_kbps)
    elif tx_rate_kbps:
        base = tx_rate_kbps * MAC_EFFICIENCY * (1.0 - min(retries or 0.0, 0.9))
    else:
        return None
    return round(base * min(1.0, max(0.05, free_airtime)))


def _read_first(system: System, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        try:
            return system.read(path)
        except SystemAccessError:
            continue
    return None


def read_leases(system: System) -> dict[str, Lease]:
    """DHCP leases by MAC (dnsmasq on OpenWrt, or on a Debian-like router)."""
    text = _read_first(system, LEASE_FILES)
    return {lease.mac: lease for lease in parse_dhcp_leases(text)} if text else {}


def read_neighbours(system: System, tools: Tools) -> list[Neighbour]:
    """The IPv4 ARP table, else ``ip neigh``."""
    try:
        return parse_proc_net_arp(system.read("/proc/net/arp"))
    except SystemAccessError:
        pass
    if tools.has("ip"):
        try:
            return parse_ip_neigh(system.run(["ip", "neigh", "show"]))
        except SystemAccessError:
            pass
    return []


def read_fdb(system: System, tools: Tools, bridges: tuple[str, ...]) -> list[FdbEntry]:
    """Learned bridge entries: ``bridge fdb show``, else ``brctl showmacs`` with port numbers resolved."""
    if tools.has("bridge"):
        try:
            return parse_bridge_fdb(system.run(["bridge", "fdb", "show"]))
        except SystemAccessError:
            pass
    if not tools.has("brctl"):
        return []
    out: list[FdbEntry] = []
    for bridge in bridges:
        try:
            entries = parse_brctl_showmacs(system.run(["brctl", "showmacs", bridge]))
            ports: dict[int, str] = {}
            for port in system.listdir(f"/sys/class/net/{bridge}/brif"):
                ports[int(system.read(f"/sys/class/net/{bridge}/brif/{port}/port_no").strip(), 16)] = port
        except (SystemAccessError, ValueError):
            continue
        out.extend(FdbEntry(mac, ports[number], bridge) for number, mac in entries if number in ports)
    return out


def wifi_row(assoc: Assoc, iface: WifiIface, radio: dict[str, Any] | None) -> dict[str, Any]:
    """The wire row of one associated station."""
    noise = assoc.noise_dbm or (radio or {}).get("noise_dbm")
    legacy = {"2.4GHz": "g", "5GHz": "a", "6GHz": "ax"}.get(iface.band or "")
    return {
        "mac": assoc.mac,
        "interface": assoc.interface,
        "medium": _MEDIUM.get(iface.band or ""),
        "signal_dbm": assoc.signal_dbm,
        "noise_dbm": noise,
        "snr_db": assoc.signal_dbm - noise if assoc.signal_dbm is not None and noise else None,
        "tx_rate_kbps": assoc.tx_rate_kbps,
        "rx_rate_kbps": assoc.rx_rate_kbps,
        "standard": assoc.standard or legacy,
        "bytes_sent": assoc.bytes_sent,
        "bytes_received": assoc.bytes_received,
        "packets_sent": assoc.packets_sent,
        "packets_received": assoc.packets_received,
        "retransmissions": assoc.retries,
        "failed": assoc.failed,
        "airtime_ms": assoc.airtime_ms,
        "connected_s": assoc.connected_s,
        "inactive_ms": assoc.inactive_ms,
    }


class StationsSampler:
    """The ``stations`` section; leaves the rows in ``ctx.shared["stations"]`` for the quality sampler."""

    name: ClassVar[str] = "stations"

    def __init__(self) -> None:
        # mac -> (monotonic, packets sent, retries, airtime ms) from the previous sample
        self._last: dict[str, tuple[float, int | None, int | None, int | None]] = {}

    def available(self, ctx: SampleContext) -> str | None:
        tools = tools_for(ctx.shared, ctx.system)
        if wifi_tools_missing(tools) is None or ctx.system.exists("/proc/net/arp"):
            return None
        return "no Wi-Fi tooling and no /proc/net/arp: no way to list terminals"

    def _estimate(self, ctx: SampleContext, assoc: Assoc, radio: dict[str, Any] | None) -> int | None:
        previous = self._last.get(assoc.mac)
        self._last[assoc.mac] = (ctx.monotonic, assoc.packets_sent, assoc.retries, assoc.airtime_ms)
        retries: float | None = None
        own_share = 0.0
        if previous is not None:
            elapsed_ms = (ctx.monotonic - previous[0]) * 1000.0
            # iwinfo and hostapd report these as 32-bit counters: a busy station can wrap them.
            d_packets = counter_delta(previous[1], assoc.packets_sent, 32)
            d_retries = counter_delta(previous[2], assoc.retries, 32)
            retries = retry_ratio(d_packets, d_retries)
            d_airtime = counter_delta(previous[3], assoc.airtime_ms)
            if d_airtime is not None and elapsed_ms > 0:
                own_share = d_airtime / elapsed_ms
        if retries is None:  # first sight, or a counter reset: the lifetime ratio is the best guess
            retries = retry_ratio(assoc.packets_sent, assoc.retries)
        busy = (radio or {}).get("utilization_pct")
        # Airtime this station could use: what the channel leaves idle, plus what it already uses.
        free = 1.0 if busy is None else 1.0 - busy / 100.0 + own_share
        return reachable_kbps(assoc.tx_rate_kbps, assoc.expected_kbps, retries, free)

    def _wifi_rows(
        self, ctx: SampleContext, wifi: list[WifiIface], infrastructure: set[str]
    ) -> dict[str, dict[str, Any]]:
        by_name = {i.name: i for i in wifi}
        radios: dict[str, dict[str, Any]] = ctx.shared.get("radio_by_iface") or {}
        rows: dict[str, dict[str, Any]] = {}
        for name, stations in associations(ctx.shared, ctx.system).items():
            for assoc in stations:
                if by_name[name].mode == "mesh" or assoc.mesh_plink is not None:
                    infrastructure.add(assoc.mac)  # another access point: drawn by the topology sampler
                    continue
                row = wifi_row(assoc, by_name[name], radios.get(name))
                row["reachable_kbps"] = self._estimate(ctx, assoc, radios.get(name))
                rows[assoc.mac] = row
        self._last = {mac: v for mac, v in self._last.items() if mac in rows}
        return rows

    def sample(self, ctx: SampleContext) -> dict[str, Any]:
        tools = tools_for(ctx.shared, ctx.system)
        wifi = wifi_interfaces(ctx.shared, ctx.system) if wifi_tools_missing(tools) is None else []
        infrastructure: set[str] = {i.mac for i in wifi if i.mac}
        rows = self._wifi_rows(ctx, wifi, infrastructure) if wifi else {}
        wan = ctx.shared.get("wan_device") or ctx.config.wan_interface or None
        behind = mesh_clients(ctx.system, tools)
        infrastructure |= set(behind.values())  # the mesh nodes clients hang off are access points
        wifi_ports = {i.name for i in wifi}
        mesh_ports = {i.name for i in wifi if i.mode == "mesh"}
        for entry in read_fdb(ctx.system, tools, ctx.config.lan_interfaces or ("br-lan",)):
            if (
                entry.mac in rows
                or entry.mac in infrastructure
                or entry.bridge is None
                or wan in (entry.port, entry.bridge)
            ):
                continue
            if entry.port in wifi_ports and entry.port not in mesh_ports:
                continue  # Wi-Fi ports are covered by the association lists, with better figures
            medium = "mesh" if entry.port in mesh_ports or entry.port.startswith("bat") else "wired"
            rows[entry.mac] = {"mac": entry.mac, "interface": entry.port, "medium": medium}
        neighbours = [n for n in read_neighbours(ctx.system, tools) if n.device != wan]
        for neighbour in neighbours:
            if neighbour.mac not in rows and neighbour.mac not in infrastructure:
                rows[neighbour.mac] = {"mac": neighbour.mac, "interface": neighbour.device}
        leases = read_leases(ctx.system)
        addresses = {n.mac: n.ip for n in neighbours}
        for mac, row in rows.items():
            lease = leases.get(mac)
            row["ip"] = addresses.get(mac) or (lease.ip if lease else None)
            row["hostname"] = lease.hostname if lease else None
            row["randomized_mac"] = is_randomized(mac)
            row["vendor"] = vendor_of(mac)
            if mac in behind and row.get("medium") not in _MEDIUM:
                row["ap"], row["medium"] = behind[mac], "mesh"  # attached to another mesh node
        out = [conform(Station, row) for _, row in sorted(rows.items())]
        ctx.shared["stations"] = out
        return {"stations": out}
