"""DHCP client messages (RFC 2131/2132): what a station's DHCP client says about the station itself.

Three options of a DISCOVER, REQUEST or INFORM describe the terminal, not its user's traffic:
- 60, vendor class identifier: the DHCP client's own name, e.g. ``android-dhcp-14`` (Android's
  ``DhcpClient``), ``MSFT 5.0`` (Windows), ``dhcpcd-10.0.6:Linux-6.6:aarch64:...`` (dhcpcd),
  ``udhcp 1.36.1`` (BusyBox);
- 55, parameter request list: the options the client asks for, in its own order (which differs between
  DHCP client implementations, hence a "fingerprint");
- 12, host name: the name the station gives itself (personal data: the collector reduces it).

:class:`DhcpFingerprints` keeps the latest of each per client MAC (``chaddr``, the client's own
address even through a relay), bounded, for the station rows of the next report.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from agent.record import record

DHCP_MAGIC = b"\x63\x82\x53\x63"
OPTION_HOSTNAME = 12
OPTION_MESSAGE_TYPE = 53
OPTION_PARAMETERS = 55
OPTION_VENDOR_CLASS = 60
#: DHCPDISCOVER, DHCPREQUEST, DHCPINFORM: the client messages that carry the client's options.
CLIENT_MESSAGES = frozenset({1, 3, 8})
#: Wire bounds (the protocol's field limits): a vendor class is cut, a request list capped.
VENDOR_CLASS_MAX = 64
PARAMETERS_MAX = 64
MAX_STATIONS = 1024


@record(frozen=True)
class ClientMessage:
    """What one DHCP client message says about its sender."""

    kind: int | None  # option 53, the DHCP message type
    mac: str | None  # chaddr, when the hardware is Ethernet
    vendor_class: str | None
    parameters: tuple[int, ...]
    hostname: str | None


def parse_client_message(payload: bytes) -> ClientMessage | None:
    """The options of a BOOTREQUEST that describe its sender, or None (not one, or malformed)."""
    if len(payload) < 240 or payload[0] != 1 or payload[236:240] != DHCP_MAGIC:
        return None
    options: dict[int, bytes] = {}
    pos = 240
    while pos < len(payload):
        code = payload[pos]
        if code == 0:
            pos += 1
            continue
        if code == 255 or pos + 1 >= len(payload):
            break
        size = payload[pos + 1]
        if pos + 2 + size > len(payload):
            return None  # an option overrunning the message: malformed
        options.setdefault(code, payload[pos + 2 : pos + 2 + size])
        pos += 2 + size
    kind = options.get(OPTION_MESSAGE_TYPE, b"")
    ethernet = payload[1] == 1 and payload[2] == 6  # htype Ethernet, hlen 6
    mac = ":".join(f"{b:02x}" for b in payload[28:34]) if ethernet else None
    vendor = _text(options.get(OPTION_VENDOR_CLASS), VENDOR_CLASS_MAX)
    name = options.get(OPTION_HOSTNAME, b"").rstrip(b"\x00").decode("utf-8", "replace").lower()
    parameters = tuple(options.get(OPTION_PARAMETERS, b"")[:PARAMETERS_MAX])
    return ClientMessage(kind[0] if len(kind) == 1 else None, mac, vendor, parameters, name or None)


def _text(value: bytes | None, limit: int) -> str | None:
    """Printable ASCII of an option (NULs and control bytes dropped), cut to ``limit``; None if empty."""
    if not value:
        return None
    text = "".join(chr(b) for b in value if 0x20 <= b < 0x7F).strip()
    return text[:limit] or None


class DhcpFingerprints:
    """The latest DHCP client message per station MAC, least recently seen evicted first."""

    def __init__(self, max_stations: int = MAX_STATIONS) -> None:
        self.max_stations = max_stations
        self._by_mac: OrderedDict[str, ClientMessage] = OrderedDict()

    def add(self, payload: bytes) -> ClientMessage | None:
        """Learn from a client-to-server DHCP datagram; return what it said (None if it was not one)."""
        message = parse_client_message(payload)
        if (
            message is None
            or message.kind not in CLIENT_MESSAGES
            or message.mac is None
            or message.mac == "00:00:00:00:00:00"
        ):
            return None
        self._by_mac[message.mac] = message
        self._by_mac.move_to_end(message.mac)
        while len(self._by_mac) > self.max_stations:
            self._by_mac.popitem(last=False)
        return message

    def station_fields(self) -> dict[str, dict[str, str]]:
        """Per MAC, the optional station fields: ``dhcp_vc``, ``dhcp_prl`` (decimal codes, comma-separated)
        and ``hostname`` (used only where the station row has none)."""
        out: dict[str, dict[str, str]] = {}
        for mac, message in self._by_mac.items():
            fields: dict[str, str] = {}
            if message.vendor_class:
                fields["dhcp_vc"] = message.vendor_class
            if message.parameters:
                fields["dhcp_prl"] = ",".join(str(code) for code in message.parameters)
            if message.hostname:
                fields["hostname"] = message.hostname
            if fields:
                out[mac] = fields
        return out


def annotate_stations(rows: list[dict[str, Any]], fields: dict[str, dict[str, str]]) -> None:
    """Add each station's DHCP fields to its report row, in place; a row's own hostname (from the DHCP
    server's leases) is kept, the client's option 12 only fills a row that has none."""
    for row in rows:
        found = fields.get(str(row.get("mac", "")).lower())
        if not found:
            continue
        for key, value in found.items():
            if key != "hostname" or not row.get("hostname"):
                row[key] = value
