"""TLS ClientHello parsing (RFC 8446 section 4.1.2) and per-flow reassembly of the client's first bytes.

Post-quantum key shares (X25519MLKEM768 adds 1,216 bytes) push ClientHellos past one TCP segment, so the
SNI is often only readable after joining two or three segments, which may also arrive out of order. The
reassembler keeps at most :data:`MAX_STREAM` bytes per flow and gives up on anything that is not a TLS
handshake record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from agent.dpi import DpiError

CONTENT_HANDSHAKE = 22
HANDSHAKE_CLIENT_HELLO = 1
EXT_SERVER_NAME = 0
EXT_ALPN = 16
EXT_ECH = 0xFE0D
EXT_QUIC_PARAMS = 0x39
EXT_QUIC_PARAMS_DRAFT = 0xFFA5

# A ClientHello with a post-quantum key share and padding is ~2 KB; 16 KB is a full record's worth.
MAX_STREAM = 16 * 1024
MAX_SEGMENTS = 24


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What a ClientHello tells about the flow: the server name, ALPN protocols, and whether ECH is on."""

    sni: str | None
    alpn: tuple[str, ...]
    ech: bool


def client_hello_length(handshake: bytes) -> int | None:
    """Total length of the handshake message at the start of ``handshake`` once its header is in."""
    if len(handshake) < 4:
        return None
    if handshake[0] != HANDSHAKE_CLIENT_HELLO:
        raise DpiError(f"handshake type {handshake[0]} is not a ClientHello")
    return 4 + int.from_bytes(handshake[1:4], "big")


def parse_client_hello(handshake: bytes) -> ClientHello:
    """Parse a complete ClientHello handshake message (4-byte handshake header included)."""
    total = client_hello_length(handshake)
    if total is None or len(handshake) < total:
        raise DpiError("ClientHello truncated")
    body = handshake[4:total]
    try:
        return _parse_body(body)
    except (struct.error, IndexError) as exc:
        raise DpiError(f"ClientHello malformed: {exc}") from exc


def parse_partial_client_hello(handshake: bytes) -> ClientHello | None:
    """The server name of a ClientHello whose tail is missing, when its server_name extension is whole.

    Through the kernel filter a hello's last segment may never arrive (a continuation to a port other than
    443, see ``bpf.py``); the name read from the segments that did is the name the whole hello carries.
    None while the server_name extension is not (wholly) in.
    """
    total = client_hello_length(handshake)
    if total is None:
        return None
    try:
        hello = _parse_body(handshake[4:total], partial=True)
    except (struct.error, IndexError, DpiError):
        return None
    return hello if hello.sni else None


def _parse_body(body: bytes, partial: bool = False) -> ClientHello:
    pos = 2 + 32  # legacy_version, random
    pos += 1 + body[pos]  # legacy_session_id
    pos += 2 + struct.unpack_from("!H", body, pos)[0]  # cipher_suites
    pos += 1 + body[pos]  # legacy_compression_methods
    if pos >= len(body):
        return ClientHello(None, (), False)  # SSLv3-era hello without extensions
    ext_end = pos + 2 + struct.unpack_from("!H", body, pos)[0]
    if ext_end > len(body):
        if not partial:
            raise DpiError("ClientHello extensions overrun the message")
        ext_end = len(body)
    pos += 2
    sni: str | None = None
    alpn: list[str] = []
    ech = False
    while pos + 4 <= ext_end:
        ext_type, ext_len = struct.unpack_from("!HH", body, pos)
        pos += 4
        if pos + ext_len > ext_end:
            if partial:
                break  # the rest is still to come
            raise DpiError("ClientHello extension overruns the extensions block")
        ext = body[pos : pos + ext_len]
        if ext_type == EXT_SERVER_NAME:
            sni = _server_name(ext)
        elif ext_type == EXT_ALPN:
            alpn = _alpn(ext)
        elif ext_type == EXT_ECH:
            ech = True
        pos += ext_len
    return ClientHello(sni, tuple(alpn), ech)


def _server_name(ext: bytes) -> str | None:
    list_end = 2 + struct.unpack_from("!H", ext, 0)[0]
    pos = 2
    while pos + 3 <= min(list_end, len(ext)):
        name_type, name_len = struct.unpack_from("!BH", ext, pos)
        pos += 3
        if pos + name_len > len(ext):
            raise DpiError("server_name entry truncated")
        if name_type == 0 and name_len:
            name = ext[pos : pos + name_len].decode("ascii", "replace").lower().rstrip(".")
            return name or None
        pos += name_len
    return None


def _alpn(ext: bytes) -> list[str]:
    out: list[str] = []
    pos = 2
    while pos < len(ext) and len(out) < 8:
        size = ext[pos]
        out.append(ext[pos + 1 : pos + 1 + size].decode("ascii", "replace"))
        pos += 1 + size
    return out


def handshake_from_records(stream: bytes) -> bytes:
    """Concatenate the handshake fragments of the complete TLS records at the start of ``stream``.

    Raises :class:`DpiError` as soon as the bytes cannot be a TLS handshake, so that a flow on port 443
    that speaks something else stops being buffered.
    """
    out = bytearray()
    pos = 0
    while pos + 5 <= len(stream):
        ctype, major, _minor, length = struct.unpack_from("!BBBH", stream, pos)
        if ctype != CONTENT_HANDSHAKE or major != 3 or length > 18432:
            if pos == 0:
                raise DpiError("not a TLS handshake record")
            break  # ChangeCipherSpec or early data after the hello: the hello is complete before it
        out += stream[pos + 5 : pos + 5 + length]
        if pos + 5 + length > len(stream):
            break
        pos += 5 + length
    return bytes(out)


def looks_like_client_hello(payload: bytes) -> bool:
    """Cheap first-segment test: a handshake record that starts a ClientHello."""
    return len(payload) >= 6 and payload[0] == CONTENT_HANDSHAKE and payload[1] == 3 and payload[5] == 1


class TlsReassembler:
    """Joins one direction's TCP segments (by sequence number) until a ClientHello can be read."""

    __slots__ = ("_base", "_segments", "_size", "failed")

    def __init__(self, isn: int | None = None) -> None:
        # With the SYN seen the stream starts at ISN+1; otherwise at the segment that starts a record.
        self._base: int | None = None if isn is None else (isn + 1) & 0xFFFFFFFF
        self._segments: dict[int, bytes] = {}
        self._size = 0
        self.failed = False

    @property
    def buffered(self) -> int:
        """Bytes held, for the flow table's memory estimate."""
        return self._size

    def add(self, seq: int, payload: bytes) -> ClientHello | None:
        """Add a segment; return the ClientHello once complete, None while more is needed."""
        if self.failed or not payload:
            return None
        if seq in self._segments and len(self._segments[seq]) >= len(payload):
            return None  # retransmission
        if self._size + len(payload) > MAX_STREAM or len(self._segments) >= MAX_SEGMENTS:
            self.failed = True
            return None
        self._segments[seq] = payload
        self._size += len(payload)
        if self._base is None and looks_like_client_hello(payload):
            self._base = seq
        if self._base is None:
            return None
        stream = self._contiguous(self._base)
        try:
            handshake = handshake_from_records(stream)
            total = client_hello_length(handshake)
            if total is None:
                return None
            if len(handshake) < total:
                early = parse_partial_client_hello(handshake)
                if early is None:
                    return None
                hello = early
            else:
                hello = parse_client_hello(handshake)
        except DpiError:
            self.failed = True
            return None
        self._segments.clear()
        self._size = 0
        return hello

    def _contiguous(self, start: int) -> bytes:
        parts: list[bytes] = []
        seq = start
        while True:
            chunk = self._segments.get(seq)
            if chunk is None:
                # A retransmission may overlap: find a segment that covers ``seq``.
                for s, data in self._segments.items():
                    delta = (seq - s) & 0xFFFFFFFF
                    if 0 < delta < len(data):
                        chunk = data[delta:]
                        break
                if chunk is None:
                    return b"".join(parts)
            parts.append(chunk)
            seq = (seq + len(chunk)) & 0xFFFFFFFF
