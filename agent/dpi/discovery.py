"""Names that stations announce on the LAN: DHCP option 12, NetBIOS, mDNS and LLMNR, SSDP.

These name the station itself (or the service it looks for), not a remote service. The gateway uses them
to label stations, and classify-pcap reports them as the flow's ``host`` like other DPI engines do.
"""

from __future__ import annotations

import struct

from agent.dpi import DpiError, dhcp, dns
from agent.dpi.http import parse_request

DHCP_MAGIC = dhcp.DHCP_MAGIC
PORT_DHCP_SERVER = 67
PORT_DHCP_CLIENT = 68
PORT_NBNS = 137
PORT_NBDGM = 138
PORT_SSDP = 1900
PORT_MDNS = 5353
PORT_LLMNR = 5355


def dhcp_hostname(payload: bytes) -> str | None:
    """Host Name option (12) of a DHCP client message (RFC 2132 section 3.14), or None."""
    message = dhcp.parse_client_message(payload)
    return None if message is None else message.hostname


def _netbios_decode(encoded: bytes) -> str | None:
    """First-level NetBIOS name decoding (RFC 1001 section 14.1): 32 letters -> 16 bytes."""
    if len(encoded) != 32 or any(not 0x41 <= c <= 0x50 for c in encoded):
        return None
    raw = bytes(((encoded[i] - 0x41) << 4) | (encoded[i + 1] - 0x41) for i in range(0, 32, 2))
    # The 16th byte is the service suffix; the name is space-padded.
    name = raw[:15].rstrip(b" \x00").decode("ascii", "replace").lower()
    return name or None


def netbios_name(payload: bytes, port: int) -> str | None:
    """Queried or registered name (name service, 137) or source name (datagram service, 138)."""
    offset = 12 if port == PORT_NBNS else 14 if port == PORT_NBDGM else -1
    if offset < 0 or len(payload) < offset + 33 or payload[offset] != 0x20:
        return None
    return _netbios_decode(payload[offset + 1 : offset + 33])


def multicast_dns_name(payload: bytes) -> tuple[str, bool] | None:
    """mDNS or LLMNR: the first question's name, else the first answer's; and whether answers came.

    A station repeats its questions until someone answers; the packet that carries answers is the one
    that settles the exchange, so callers keep looking until then.
    """
    try:
        message = dns.parse(payload)
    except DpiError:
        return None
    # A query may list answers it already knows (RFC 6762 known-answer suppression): only a response
    # settles the exchange.
    answered = bool(message.answers) and message.is_response
    if message.questions and message.questions[0][0]:
        return message.questions[0][0], answered
    if message.answers and message.answers[0].name:
        return message.answers[0].name, answered
    return None


def ssdp_host(payload: bytes) -> str | None:
    """Host header of an SSDP M-SEARCH or NOTIFY (HTTP over UDP), as sent."""
    request = parse_request(payload)
    return None if request is None else request.host


def lan_name(sport: int, dport: int, payload: bytes) -> tuple[str, str, bool] | None:
    """(name, source, final) from a LAN discovery packet on these ports, or None.

    ``final`` is False for an unanswered mDNS/LLMNR query: a later packet of the flow may say more.
    """
    try:
        if dport == PORT_DHCP_SERVER and sport == PORT_DHCP_CLIENT:
            found = dhcp_hostname(payload)
            return (found, "dhcp", True) if found else None
        if PORT_NBNS in (sport, dport) or PORT_NBDGM in (sport, dport):
            found = netbios_name(payload, PORT_NBNS if PORT_NBNS in (sport, dport) else PORT_NBDGM)
            return (found, "netbios", True) if found else None
        if PORT_MDNS in (sport, dport) or PORT_LLMNR in (sport, dport):
            named = multicast_dns_name(payload)
            if named is None:
                return None
            return (named[0], "mdns" if PORT_MDNS in (sport, dport) else "llmnr", named[1])
        if dport == PORT_SSDP:
            found = ssdp_host(payload)
            return (found, "ssdp", True) if found else None
    except (struct.error, IndexError, UnicodeError):
        return None
    return None
