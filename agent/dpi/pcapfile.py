"""Read pcap and pcapng capture files (sniffing the magic number: file extensions lie).

Only what classify-pcap needs: the frames, their timestamps and each frame's link type. Supported link
types are decoded by :mod:`agent.dpi.packet`; this module does not look inside frames.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from agent.dpi import DpiError

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
# A frame larger than this is a corrupt length field, not a packet (pcapng allows far more, nobody uses it).
_MAX_FRAME = 256 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: seconds since the epoch, its link type and the captured bytes."""

    ts: float
    linktype: int
    data: bytes
    wire_len: int


def read_frames(path: str) -> Iterator[Frame]:
    """Yield every frame of a pcap or pcapng file; :class:`DpiError` on a file that is neither."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
        if magic in _PCAP_MAGIC:
            yield from _read_pcap(handle, magic)
        elif magic == _PCAPNG_SHB:
            yield from _read_pcapng(handle)
        else:
            raise DpiError(f"{path}: not a pcap or pcapng file (magic {magic.hex() or 'empty'})")


def _read_exact(handle: BinaryIO, size: int) -> bytes | None:
    data = handle.read(size)
    if len(data) < size:
        return None  # a capture cut short (tcpdump killed) ends at the last whole record
    return data


def _read_pcap(handle: BinaryIO, magic: bytes) -> Iterator[Frame]:
    endian, tick = _PCAP_MAGIC[magic]
    header = _read_exact(handle, 20)
    if header is None:
        raise DpiError("pcap global header truncated")
    # The upper bits of the link-type field carry FCS flags (pcap-linktype(7)); the type is the low 16.
    linktype = struct.unpack(endian + "HHiIII", header)[5] & 0xFFFF
    record = struct.Struct(endian + "IIII")
    while True:
        raw = _read_exact(handle, 16)
        if raw is None:
            return
        sec, frac, caplen, wire_len = record.unpack(raw)
        if caplen > _MAX_FRAME:
            raise DpiError(f"pcap record of {caplen} bytes: corrupt file")
        data = _read_exact(handle, caplen)
        if data is None:
            return
        yield Frame(sec + frac * tick, linktype, data, wire_len)


@dataclass(slots=True)
class _Interface:
    linktype: int
    tick: float


def _read_pcapng(handle: BinaryIO) -> Iterator[Frame]:
    handle.seek(0)
    endian = "<"
    interfaces: list[_Interface] = []
    while True:
        head = _read_exact(handle, 8)
        if head is None:
            return
        body_prefix = b""
        if head[:4] == _PCAPNG_SHB:
            # A section header's own length is in the byte order that the magic after it declares.
            bom = _read_exact(handle, 4)
            if bom is None:
                return
            endian = _pcapng_endian(bom)
            body_prefix = bom
            interfaces = []  # interface ids are numbered per section
        block_type, length = struct.unpack(endian + "II", head)
        if length < 12 or length % 4 or length > _MAX_FRAME:
            raise DpiError(f"pcapng block of length {length}: corrupt file")
        rest = _read_exact(handle, length - 8 - len(body_prefix))
        if rest is None:
            return
        body = (body_prefix + rest)[:-4]  # drop the trailing copy of the block length
        if block_type == 1:
            interfaces.append(_parse_idb(body, endian))
        elif block_type in (6, 2):
            yield _parse_epb(body, endian, interfaces, obsolete=block_type == 2)
        elif block_type == 3 and interfaces:
            if len(body) < 4:
                raise DpiError("pcapng simple packet block truncated")
            wire_len = struct.unpack_from(endian + "I", body, 0)[0]
            yield Frame(0.0, interfaces[0].linktype, body[4 : 4 + wire_len], wire_len)
        # Name resolution, statistics, custom and decryption-secret blocks carry no frames.


def _pcapng_endian(bom: bytes) -> str:
    if bom == b"\x4d\x3c\x2b\x1a":
        return "<"
    if bom == b"\x1a\x2b\x3c\x4d":
        return ">"
    raise DpiError(f"pcapng byte-order magic {bom.hex()} invalid")


def _parse_idb(body: bytes, endian: str) -> _Interface:
    if len(body) < 8:
        raise DpiError("pcapng interface block truncated")
    linktype = struct.unpack_from(endian + "H", body, 0)[0]
    tick = 1e-6
    offset = 8
    while offset + 4 <= len(body):
        code, size = struct.unpack_from(endian + "HH", body, offset)
        offset += 4
        if code == 0:
            break
        if code == 9 and size >= 1:  # if_tsresol: power of 10, or of 2 with the top bit set
            value = body[offset]
            tick = 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        offset += (size + 3) & ~3
    return _Interface(linktype, tick)


def _parse_epb(body: bytes, endian: str, interfaces: list[_Interface], obsolete: bool) -> Frame:
    if len(body) < 20:
        raise DpiError("pcapng packet block truncated")
    if obsolete:
        iface, _drops, high, low, caplen, wire_len = struct.unpack_from(endian + "HHIIII", body, 0)
    else:
        iface, high, low, caplen, wire_len = struct.unpack_from(endian + "IIIII", body, 0)
    if iface >= len(interfaces):
        raise DpiError(f"pcapng packet on undeclared interface {iface}")
    if 20 + caplen > len(body):
        raise DpiError("pcapng packet data overruns its block")
    info = interfaces[iface]
    return Frame(((high << 32) | low) * info.tick, info.linktype, body[20 : 20 + caplen], wire_len)
