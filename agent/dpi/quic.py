"""Read the server name from a QUIC client's first packets.

IETF QUIC (RFC 9000/9001, v2 RFC 9369, drafts 22-34, Facebook mvfst, Google T050/T051/Q050) protects its
Initial packets with keys derived from the Destination Connection ID and a published per-version salt, so
a passive observer can decrypt them (RFC 9001 section 5): derive the keys, remove header protection,
decrypt with AES-128-GCM, collect the CRYPTO frames (which clients split, reorder and spread over several
packets) and read the TLS ClientHello. Older Google QUIC (Q024-Q046) sends its handshake message (CHLO) in
clear; its ``SNI`` tag is read directly.

AES needs ``cryptography``, an optional dependency on the device: without it IETF QUIC flows are not named
(one log line says so) while gQUIC CHLOs still are.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Any

from agent.dpi import DpiError
from agent.dpi.tls import client_hello_length, parse_client_hello
from agent.logger import Logger

log = Logger(__name__)

_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_SALT_D22 = bytes.fromhex("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a")
_SALT_D23 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
_SALT_D29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
_SALT_Q050 = bytes.fromhex("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45")
_SALT_T050 = bytes.fromhex("7ff579e5acd072915580304c43a2367c60488310")
_SALT_T051 = bytes.fromhex("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d")

VERSION_1 = 0x00000001
VERSION_2 = 0x6B3343CF
_MAX_CRYPTO = 16 * 1024
_MAX_CID = 20


@dataclass(frozen=True, slots=True)
class _Version:
    salt: bytes
    label_prefix: str  # "quic" or "quicv2": the key/iv/hp labels changed in v2
    initial_type: int  # long-header packet type of Initial: 0 in v1 and drafts, 1 in v2


def version_info(version: int) -> _Version | None:
    """Initial-packet protection parameters of a QUIC version; None if unknown or not decryptable."""
    if version == VERSION_1:
        return _Version(_SALT_V1, "quic", 0)
    if version == VERSION_2:
        return _Version(_SALT_V2, "quicv2", 1)
    if version >> 8 == 0xFF0000:
        draft = version & 0xFF
        if draft < 22:
            return None
        salt = (
            _SALT_D22 if draft == 22 else _SALT_D23 if draft <= 28 else _SALT_D29 if draft <= 32 else _SALT_V1
        )
        return _Version(salt, "quic", 0)
    mvfst = {0xFACEB001: _SALT_D22, 0xFACEB002: _SALT_D23, 0xFACEB00E: _SALT_D23}
    if version in mvfst:
        return _Version(mvfst[version], "quic", 0)
    google = {0x51303530: _SALT_Q050, 0x54303530: _SALT_T050, 0x54303531: _SALT_T051}
    if version in google:
        return _Version(google[version], "quic", 0)
    return None


def _hkdf_expand_label(secret: bytes, label: str, length: int) -> bytes:
    """TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 section 7.1), SHA-256."""
    full = b"tls13 " + label.encode()
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


@dataclass(frozen=True, slots=True)
class InitialKeys:
    """AEAD key, IV and header-protection key of one direction's Initial packets."""

    key: bytes
    iv: bytes
    hp: bytes


def initial_keys(dcid: bytes, version: int, server: bool = False) -> InitialKeys:
    """Derive the Initial packet keys for a Destination Connection ID (RFC 9001 section 5.2)."""
    info = version_info(version)
    if info is None:
        raise DpiError(f"QUIC version {version:#010x} has no known Initial salt")
    initial = hmac.new(info.salt, dcid, hashlib.sha256).digest()
    secret = _hkdf_expand_label(initial, "server in" if server else "client in", 32)
    prefix = info.label_prefix
    return InitialKeys(
        _hkdf_expand_label(secret, f"{prefix} key", 16),
        _hkdf_expand_label(secret, f"{prefix} iv", 12),
        _hkdf_expand_label(secret, f"{prefix} hp", 16),
    )


_CRYPTO_STATE: dict[str, Any] = {}


def crypto_available() -> bool:
    """Whether AES is available; logs once when it is not."""
    if "ok" not in _CRYPTO_STATE:
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            log.warning("QUIC SNI disabled: the optional 'cryptography' package is not installed")
            _CRYPTO_STATE["ok"] = False
        else:
            _CRYPTO_STATE.update(ok=True, Cipher=Cipher, AES=algorithms.AES, ECB=modes.ECB, AESGCM=AESGCM)
    return bool(_CRYPTO_STATE["ok"])


def aes_ecb(key: bytes, block: bytes) -> bytes:
    """One AES block, for the header-protection mask."""
    state = _CRYPTO_STATE
    encryptor = state["Cipher"](state["AES"](key), state["ECB"]()).encryptor()
    return bytes(encryptor.update(block) + encryptor.finalize())


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a QUIC variable-length integer (RFC 9000 section 16); return value and next offset."""
    if pos >= len(data):
        raise DpiError("QUIC varint past end")
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise DpiError("QUIC varint truncated")
    value = first & 0x3F
    for i in range(1, size):
        value = (value << 8) | data[pos + i]
    return value, pos + size


@dataclass(frozen=True, slots=True)
class LongHeader:
    """The clear part of a long-header packet and where its protected part starts."""

    start: int  # offset of the packet within the datagram (packets may be coalesced)
    first: int
    version: int
    dcid: bytes
    scid: bytes
    pn_offset: int  # for Initial packets of a known version; 0 otherwise
    end: int  # offset just past this packet within the datagram


def parse_long_header(data: bytes, start: int = 0) -> LongHeader:
    """Parse an IETF-style long header at ``start`` (the invariants of RFC 8999 plus Initial fields)."""
    if len(data) < start + 7 or not data[start] & 0x80:
        raise DpiError("not a QUIC long header")
    first = data[start]
    version = struct.unpack_from("!I", data, start + 1)[0]
    pos = start + 5
    dcil = data[pos]
    if dcil > _MAX_CID or pos + 1 + dcil >= len(data):
        raise DpiError("QUIC DCID length invalid")
    dcid = data[pos + 1 : pos + 1 + dcil]
    pos += 1 + dcil
    scil = data[pos]
    if scil > _MAX_CID or pos + 1 + scil > len(data):
        raise DpiError("QUIC SCID length invalid")
    scid = data[pos + 1 : pos + 1 + scil]
    pos += 1 + scil
    info = version_info(version)
    if info is None or (first >> 4) & 3 != info.initial_type:
        return LongHeader(start, first, version, dcid, scid, 0, len(data))
    token_len, pos = read_varint(data, pos)
    pos += token_len
    length, pos = read_varint(data, pos)
    if pos + length > len(data) or length < 20:
        raise DpiError("QUIC Initial length overruns the datagram")
    return LongHeader(start, first, version, dcid, scid, pos, pos + length)


def decrypt_initial(data: bytes, header: LongHeader, keys: InitialKeys) -> bytes:
    """Remove header protection and decrypt one Initial packet; :class:`DpiError` if it fails."""
    pn_offset = header.pn_offset
    sample = data[pn_offset + 4 : pn_offset + 20]
    if len(sample) < 16:
        raise DpiError("QUIC Initial too short for the header-protection sample")
    mask = aes_ecb(keys.hp, sample)
    first = header.first ^ (mask[0] & 0x0F)
    pn_len = (first & 3) + 1
    pn_bytes = bytes(b ^ m for b, m in zip(data[pn_offset : pn_offset + pn_len], mask[1:], strict=False))
    # Initial packet numbers start at 0 and clients send few Initials: the truncated number is the number.
    packet_number = int.from_bytes(pn_bytes, "big")
    aad = bytes([first]) + data[header.start + 1 : pn_offset] + pn_bytes
    nonce = bytearray(keys.iv)
    for i in range(8):
        nonce[11 - i] ^= (packet_number >> (8 * i)) & 0xFF
    ciphertext = data[pn_offset + pn_len : header.end]
    try:
        plain: bytes = _CRYPTO_STATE["AESGCM"](keys.key).decrypt(bytes(nonce), ciphertext, aad)
    except Exception as exc:  # cryptography's InvalidTag: a server packet, or not QUIC at all
        raise DpiError("QUIC Initial did not authenticate") from exc
    return plain


def crypto_frames(plain: bytes) -> list[tuple[int, bytes]]:
    """The (offset, data) of every CRYPTO frame in a decrypted Initial payload."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(plain):
        ftype = plain[pos]
        if ftype in (0x00, 0x01):  # PADDING, PING
            pos += 1
        elif ftype in (0x02, 0x03):  # ACK (with ECN counts for 0x03)
            pos += 1
            _largest, pos = read_varint(plain, pos)
            _delay, pos = read_varint(plain, pos)
            ranges, pos = read_varint(plain, pos)
            _first, pos = read_varint(plain, pos)
            for _ in range(min(ranges, 256) * 2 + (3 if ftype == 0x03 else 0)):
                _skip, pos = read_varint(plain, pos)
        elif ftype == 0x06:
            offset, pos = read_varint(plain, pos + 1)
            length, pos = read_varint(plain, pos)
            if pos + length > len(plain):
                raise DpiError("CRYPTO frame overruns the packet")
            out.append((offset, plain[pos : pos + length]))
            pos += length
        else:
            break  # CONNECTION_CLOSE or a frame not allowed in Initial: nothing more to read
    return out


def parse_chlo(message: bytes) -> str | None:
    """Server name from a Google QUIC crypto handshake message (``CHLO`` tag/value map); None if absent."""
    if len(message) < 8 or message[:4] != b"CHLO":
        raise DpiError("not a CHLO message")
    count = struct.unpack_from("<H", message, 4)[0]
    table = 8
    values = table + 8 * count
    if count > 128 or values > len(message):
        raise DpiError("CHLO tag table truncated")
    previous = 0
    for i in range(count):
        tag, end = struct.unpack_from("<4sI", message, table + 8 * i)
        if end < previous or values + end > len(message):
            raise DpiError("CHLO tag offsets invalid")
        if tag == b"SNI\x00":
            name = message[values + previous : values + end].decode("ascii", "replace").lower()
            return name or None
        previous = end
    return None


def gquic_chlo_sni(payload: bytes) -> str | None:
    """Server name from a clear-text Google QUIC (Q024-Q046) client packet, or None."""
    at = payload.find(b"CHLO", 0, 256)
    if at < 0:
        return None
    try:
        return parse_chlo(payload[at:])
    except DpiError:
        return None


def is_gquic_client(payload: bytes) -> bool:
    """Clear-text Google QUIC packet carrying a version: Q0xx public header (up to Q043) or Q046."""
    if len(payload) < 13:
        return False
    if payload[0] & 0x80:  # Q046 uses the IETF long-header layout with a 'Q046' version
        return payload[1:3] == b"Q0" and payload[1:5] < b"Q050"
    # Public header: version flag 0x01 with an 8-byte connection id (flag 0x08) before the version.
    return payload[0] & 0x09 == 0x09 and payload[9:11] == b"Q0"


class QuicReassembler:
    """Per-flow state: collects the client's Initial CRYPTO data until the ClientHello is complete."""

    __slots__ = ("_chunks", "_dcid", "_keys", "_size", "failed", "recognised")

    def __init__(self) -> None:
        self.recognised = False  # a packet of a QUIC version we can read was seen
        self._dcid: bytes | None = None
        self._keys: InitialKeys | None = None
        self._chunks: dict[int, bytes] = {}
        self._size = 0
        self.failed = False

    @property
    def buffered(self) -> int:
        """Bytes held, for the flow table's memory estimate."""
        return self._size

    def add(self, datagram: bytes) -> str | None:
        """Feed one UDP payload; return the server name once found ("" if the hello has none)."""
        if self.failed:
            return None
        if is_gquic_client(datagram):
            self.recognised = True
            return gquic_chlo_sni(datagram)
        if not datagram or not datagram[0] & 0x80 or len(datagram) < 7:
            return None
        if version_info(struct.unpack_from("!I", datagram, 1)[0]) is None:
            return None
        self.recognised = True
        if not crypto_available():
            self.failed = True
            return None
        pos = 0
        while pos < len(datagram) and datagram[pos] & 0x80:
            try:
                header = parse_long_header(datagram, pos)
            except DpiError:
                return None
            if header.pn_offset:
                found = self._initial(datagram, header)
                if found is not None:
                    return found
            pos = header.end
        return None

    def _initial(self, datagram: bytes, header: LongHeader) -> str | None:
        if self._dcid is None:
            self._dcid = header.dcid
        if header.dcid != self._dcid:
            return None  # the server's Initials use the client's SCID as DCID: not ours to read
        if self._keys is None:
            self._keys = initial_keys(header.dcid, header.version)
        try:
            plain = decrypt_initial(datagram, header, self._keys)
            frames = crypto_frames(plain)
        except DpiError:
            return None
        for offset, data in frames:
            if offset + len(data) > _MAX_CRYPTO or self._size + len(data) > 2 * _MAX_CRYPTO:
                self.failed = True
                return None
            if len(data) > len(self._chunks.get(offset, b"")):
                self._size += len(data)
                self._chunks[offset] = data
        stream = self._contiguous()
        if stream[:4] == b"CHLO":  # Q050 carries the gQUIC handshake inside CRYPTO frames
            try:
                return parse_chlo(stream) or ""
            except DpiError:
                return None
        try:
            total = client_hello_length(stream)
            if total is None or len(stream) < total:
                return None
            hello = parse_client_hello(stream[:total])
        except DpiError:
            self.failed = True
            return None
        self._chunks.clear()
        self._size = 0
        return hello.sni or ""

    def _contiguous(self) -> bytes:
        out = bytearray()
        for offset in sorted(self._chunks):
            data = self._chunks[offset]
            if offset > len(out):
                break
            if offset + len(data) > len(out):
                out += data[len(out) - offset :]
        return bytes(out)
