"""Parse DNS messages (RFC 1035; also mDNS and LLMNR, which share the wire format).

Queries give a flow its name; answers feed :mod:`agent.dpi.dnscache` so that a later flow to a resolved
address can be named even when it carries no SNI. Compression pointers are followed with a hop limit, so
a hostile message cannot loop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from agent.dpi import DpiError

TYPE_A = 1
TYPE_CNAME = 5
TYPE_PTR = 12
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_HTTPS = 65

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_MAX_POINTERS = 32
_MAX_RECORDS = 64  # per section: more is a flood, not a resolver answer


@dataclass(slots=True)
class Answer:
    """One resource record: ``value`` is the packed address for A/AAAA, the target name for CNAME/PTR."""

    name: str
    rtype: int
    ttl: int
    value: bytes | str


@dataclass(slots=True)
class DnsMessage:
    """The parts of a DNS message the DPI uses."""

    ident: int
    is_response: bool
    rcode: int
    questions: list[tuple[str, int]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """Decode the (possibly compressed) name at ``offset``; return it and the offset just after it."""
    labels: list[str] = []
    end = -1
    hops = 0
    total = 0
    while True:
        if offset >= len(data):
            raise DpiError("DNS name runs past the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise DpiError("DNS compression pointer truncated")
            if end < 0:
                end = offset + 2
            hops += 1
            if hops > _MAX_POINTERS:
                raise DpiError("DNS compression loop")
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise DpiError(f"DNS label type {length >> 6} unsupported")
        offset += 1
        if length == 0:
            break
        if offset + length > len(data):
            raise DpiError("DNS label runs past the message")
        total += length + 1
        if total > 255:
            raise DpiError("DNS name longer than 255 bytes")
        # mDNS service instance names are UTF-8 ("Luca's iMac._odisk._tcp.local"); plain DNS is ASCII.
        labels.append(data[offset : offset + length].decode("utf-8", "replace"))
        offset += length
    return ".".join(labels).lower(), (end if end >= 0 else offset)


def parse(data: bytes) -> DnsMessage:
    """Parse a DNS message (UDP payload, or a TCP payload without its 2-byte length prefix)."""
    if len(data) < 12:
        raise DpiError("DNS message shorter than its header")
    ident, flags, qdcount, ancount, _nscount, _arcount = _HEADER.unpack_from(data, 0)
    if flags & 0x7800 not in (
        0,
        0x2800,
    ):  # opcode QUERY, or UPDATE in mDNS announcements is rare; reject rest
        raise DpiError(f"DNS opcode {(flags >> 11) & 0xF} not a query")
    if qdcount > _MAX_RECORDS or ancount > 4 * _MAX_RECORDS:
        raise DpiError("DNS record counts implausible")
    message = DnsMessage(ident, bool(flags & 0x8000), flags & 0x000F)
    offset = 12
    for _ in range(qdcount):
        name, offset = read_name(data, offset)
        if offset + 4 > len(data):
            raise DpiError("DNS question truncated")
        qtype = struct.unpack_from("!H", data, offset)[0]
        offset += 4
        message.questions.append((name, qtype))
    for _ in range(min(ancount, _MAX_RECORDS)):
        name, offset = read_name(data, offset)
        if offset + 10 > len(data):
            raise DpiError("DNS answer truncated")
        rtype, _rclass, ttl, rdlength = _RR.unpack_from(data, offset)
        offset += 10
        if offset + rdlength > len(data):
            raise DpiError("DNS answer data truncated")
        value: bytes | str
        if (rtype == TYPE_A and rdlength == 4) or (rtype == TYPE_AAAA and rdlength == 16):
            value = data[offset : offset + rdlength]
        elif rtype in (TYPE_CNAME, TYPE_PTR):
            value = read_name(data, offset)[0]
        elif rtype == TYPE_SRV and rdlength > 6:
            value = read_name(data, offset + 6)[0]
        else:
            value = b""
        message.answers.append(Answer(name, rtype, ttl, value))
        offset += rdlength
    return message


def try_parse(data: bytes) -> DnsMessage | None:
    """:func:`parse`, returning None instead of raising on a malformed message."""
    try:
        return parse(data)
    except DpiError:
        return None
