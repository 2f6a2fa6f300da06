"""Pure parsers of the tables that name and place LAN terminals.

DHCP leases (dnsmasq's /tmp/dhcp.leases) give hostnames, the ARP/neighbour tables give current
IP addresses, and the bridge forwarding database says which bridge port (wired, Wi-Fi, mesh) a
MAC was last seen on.
"""

from __future__ import annotations

import re

from agent.record import record

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def is_mac(text: str) -> bool:
    """Whether ``text`` is a colon-separated 48-bit MAC."""
    return bool(_MAC.match(text))


def is_unicast(mac: str) -> bool:
    """Whether a MAC names one device (not multicast/broadcast, not all zeroes)."""
    return is_mac(mac) and not int(mac[:2], 16) & 0x01 and mac != "00:00:00:00:00:00"


@record(frozen=True)
class Lease:
    """One IPv4 DHCP lease."""

    mac: str
    ip: str
    hostname: str | None
    expires: int


@record(frozen=True)
class Neighbour:
    """One entry of the ARP or IPv6 neighbour table."""

    ip: str
    mac: str
    device: str


@record(frozen=True)
class FdbEntry:
    """Where a bridge last saw a MAC."""

    mac: str
    port: str
    bridge: str | None


def parse_dhcp_leases(text: str) -> list[Lease]:
    """dnsmasq leases: ``expiry mac ip hostname client-id``; ``*`` is no hostname.

    IPv6 leases follow a ``duid`` line and carry an IAID where IPv4 ones carry the MAC; they
    are skipped (the MAC is what the inventory joins on).
    """
    out: list[Lease] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or not is_mac(parts[1]) or not parts[0].isdigit():
            continue
        hostname = parts[3] if parts[3] != "*" else None
        out.append(Lease(mac=parts[1].lower(), ip=parts[2], hostname=hostname, expires=int(parts[0])))
    return out


def parse_proc_net_arp(text: str) -> list[Neighbour]:
    """/proc/net/arp rows whose entry is complete (flag 0x2); incomplete ones have no MAC yet."""
    out: list[Neighbour] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            complete = int(parts[2], 16) & 0x2
        except ValueError:
            continue
        if complete and is_unicast(parts[3].lower()):
            out.append(Neighbour(ip=parts[0], mac=parts[3].lower(), device=parts[5]))
    return out


def parse_ip_neigh(text: str) -> list[Neighbour]:
    """``ip neigh show``: ``<ip> dev <if> lladdr <mac> [router] <STATE>``; failed entries skipped."""
    out: list[Neighbour] = []
    for line in text.splitlines():
        parts = line.split()
        if "lladdr" not in parts or "dev" not in parts or parts[-1] in ("FAILED", "INCOMPLETE"):
            continue
        mac = parts[parts.index("lladdr") + 1].lower()
        if is_unicast(mac):
            out.append(Neighbour(ip=parts[0], mac=mac, device=parts[parts.index("dev") + 1]))
    return out


def parse_bridge_fdb(text: str) -> list[FdbEntry]:
    """``bridge fdb show``: learned entries only (not ``permanent``/``self``, which are the bridge's own)."""
    out: list[FdbEntry] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or "dev" not in parts or "permanent" in parts or "self" in parts:
            continue
        mac = parts[0].lower()
        if not is_unicast(mac):
            continue
        bridge = parts[parts.index("master") + 1] if "master" in parts else None
        out.append(FdbEntry(mac=mac, port=parts[parts.index("dev") + 1], bridge=bridge))
    return out


def parse_brctl_showmacs(text: str) -> list[tuple[int, str]]:
    """``brctl showmacs <br>``: ``(port number, mac)`` of the non-local entries."""
    out: list[tuple[int, str]] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[2] == "no" and is_unicast(parts[1].lower()):
            out.append((int(parts[0]), parts[1].lower()))
    return out
