"""Decode a captured frame down to its transport header: Ethernet (VLAN tags, PPPoE), Linux cooked capture,
raw IP; IPv4 and IPv6 (skipping extension headers); TCP and UDP ports.

Returns None for anything that is not an IP packet (ARP, LLDP...) and for non-first IP fragments, which
carry no ports. Raises nothing but :class:`DpiError` on malformed input.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from agent.dpi import DpiError
from agent.dpi.pcapfile import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)

TCP = 6
UDP = 17
ICMP = 1
ICMPV6 = 58

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_PPPOE_SESSION = 0x8864
_PPP_IPV4 = 0x0021
_PPP_IPV6 = 0x0057
_IPV6_EXTENSIONS = (0, 43, 60, 135, 139, 140)  # hop-by-hop, routing, dest options, mobility, HIP, shim6
_IPV6_FRAGMENT = 44
_IPV6_AH = 51

_ETH = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_PORTS = struct.Struct("!HH")
_TCP = struct.Struct("!HHIIBB")


@dataclass(slots=True)
class Packet:
    """The fields of one packet that the flow table and the parsers need.

    ``src``/``dst`` are packed addresses (4 or 16 bytes) so that flow keys stay cheap; ``ip_len`` is the
    length of the IP packet as sent (header included), the unit conntrack counts in.
    """

    ts: float
    src_mac: bytes | None
    dst_mac: bytes | None
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int
    tcp_flags: int
    seq: int
    payload: bytes
    ip_len: int


def decode(linktype: int, frame: bytes, ts: float = 0.0) -> Packet | None:
    """Decode one frame of the given link type; None if it is not an IPv4/IPv6 packet we can read."""
    try:
        return _decode(linktype, frame, ts)
    except (struct.error, IndexError) as exc:
        raise DpiError(f"truncated frame: {exc}") from exc


def _decode(linktype: int, frame: bytes, ts: float) -> Packet | None:
    src_mac: bytes | None = None
    dst_mac: bytes | None = None
    if linktype == LINKTYPE_ETHERNET:
        dst_mac, src_mac, ethertype = _ETH.unpack_from(frame, 0)
        offset = 14
        while ethertype in _VLAN_TAGS:
            ethertype = struct.unpack_from("!H", frame, offset + 2)[0]
            offset += 4
        if ethertype == _PPPOE_SESSION:  # PPPoE session header (6 bytes), then the PPP protocol field
            ppp = struct.unpack_from("!H", frame, offset + 6)[0]
            ethertype = _ETH_IPV4 if ppp == _PPP_IPV4 else _ETH_IPV6 if ppp == _PPP_IPV6 else 0
            offset += 8
    elif linktype == LINKTYPE_LINUX_SLL:
        ethertype = struct.unpack_from("!H", frame, 14)[0]
        offset = 16
        if struct.unpack_from("!H", frame, 4)[0] == 6:  # a 6-byte link-layer address: a MAC
            src_mac = frame[6:12]
    elif linktype == LINKTYPE_LINUX_SLL2:
        ethertype = struct.unpack_from("!H", frame, 0)[0]
        offset = 20
        if frame[11] == 6:
            src_mac = frame[12:18]
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not frame:
            raise DpiError("empty raw IP frame")
        version = frame[0] >> 4
        ethertype = _ETH_IPV4 if version == 4 else _ETH_IPV6 if version == 6 else 0
        offset = 0
    elif linktype == LINKTYPE_NULL:
        family = struct.unpack_from("<I", frame, 0)[0]
        if family > 0xFFFF:  # written in the capturing host's byte order, which may not be ours
            family = struct.unpack_from(">I", frame, 0)[0]
        ethertype = _ETH_IPV4 if family == 2 else _ETH_IPV6 if family in (10, 24, 28, 30) else 0
        offset = 4
    else:
        raise DpiError(f"unsupported link type {linktype}")
    if ethertype == _ETH_IPV4:
        return _ipv4(frame, offset, ts, src_mac, dst_mac)
    if ethertype == _ETH_IPV6:
        return _ipv6(frame, offset, ts, src_mac, dst_mac)
    return None


def _ipv4(frame: bytes, offset: int, ts: float, smac: bytes | None, dmac: bytes | None) -> Packet | None:
    ver_ihl, _tos, total, _ident, frag, _ttl, proto, _csum, src, dst = _IPV4.unpack_from(frame, offset)
    if ver_ihl >> 4 != 4:
        raise DpiError("IPv4 ethertype with another IP version")
    ihl = (ver_ihl & 0x0F) * 4
    if ihl < 20:
        raise DpiError("IPv4 header length below 20")
    if frag & 0x1FFF:
        return None  # a non-first fragment: no transport header
    # TSO/GRO on the capturing host can leave total length 0; trust the captured bytes then.
    end = offset + total if total >= ihl else len(frame)
    return _transport(
        frame,
        offset + ihl,
        min(end, len(frame)),
        proto,
        src,
        dst,
        ts,
        smac,
        dmac,
        total if total >= ihl else len(frame) - offset,
    )


def _ipv6(frame: bytes, offset: int, ts: float, smac: bytes | None, dmac: bytes | None) -> Packet | None:
    vtf, plen, nxt, _hops, src, dst = _IPV6.unpack_from(frame, offset)
    if vtf >> 28 != 6:
        raise DpiError("IPv6 ethertype with another IP version")
    pos = offset + 40
    end = min(pos + plen, len(frame)) if plen else len(frame)
    for _ in range(8):  # a chain longer than this is an attack, not a packet
        if nxt in _IPV6_EXTENSIONS:
            nxt, hdr_len = frame[pos], frame[pos + 1]
            pos += (hdr_len + 1) * 8
        elif nxt == _IPV6_FRAGMENT:
            nxt, _res, frag_off = struct.unpack_from("!BBH", frame, pos)
            if frag_off & 0xFFF8:
                return None
            pos += 8
        elif nxt == _IPV6_AH:
            nxt, hdr_len = frame[pos], frame[pos + 1]
            pos += (hdr_len + 2) * 4
        else:
            break
    return _transport(frame, pos, end, nxt, src, dst, ts, smac, dmac, 40 + plen)


def _transport(
    frame: bytes,
    pos: int,
    end: int,
    proto: int,
    src: bytes,
    dst: bytes,
    ts: float,
    smac: bytes | None,
    dmac: bytes | None,
    ip_len: int,
) -> Packet:
    sport = dport = flags = seq = 0
    payload = b""
    if proto == TCP:
        sport, dport, seq, _ack, off, flags = _TCP.unpack_from(frame, pos)
        data_at = pos + (off >> 4) * 4
        if data_at < pos + 20:
            raise DpiError("TCP data offset below 20")
        payload = frame[data_at:end]
    elif proto == UDP:
        sport, dport = _PORTS.unpack_from(frame, pos)
        if pos + 8 > len(frame):
            raise DpiError("UDP header truncated")
        payload = frame[pos + 8 : end]
    return Packet(ts, smac, dmac, src, dst, proto, sport, dport, flags, seq, payload, ip_len)


def format_ip(packed: bytes) -> str:
    """Text form of a packed IPv4 or IPv6 address."""
    return str(ipaddress.ip_address(packed))


def format_endpoint(packed: bytes, port: int) -> str:
    """``ip:port``, or ``[ip6]:port`` for IPv6."""
    text = format_ip(packed)
    return f"[{text}]:{port}" if len(packed) == 16 else f"{text}:{port}"


def format_mac(mac: bytes) -> str:
    """Lower-case colon-separated MAC address."""
    return ":".join(f"{b:02x}" for b in mac)
