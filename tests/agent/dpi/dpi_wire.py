"""Build packets and capture files by hand for the DPI tests (and the netns client script).

Everything here is written from the RFCs, independently of the parsers under test, except QUIC Initial
key derivation, which the tests check separately against the RFC 9001 / RFC 9369 test vectors.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

CLIENT_MAC = bytes.fromhex("020000000001")
GATEWAY_MAC = bytes.fromhex("020000000002")


# ---------------------------------------------------------------- link, network, transport


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, frag: int = 0) -> bytes:
    s = bytes(int(x) for x in src.split("."))
    d = bytes(int(x) for x in dst.split("."))
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0, s, d)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def ipv6(
    src: str, dst: str, proto: int, payload: bytes, ext: bytes = b"", ext_proto: int | None = None
) -> bytes:
    import ipaddress

    first = ext_proto if ext else proto
    return (
        struct.pack(
            "!IHBB16s16s",
            6 << 28,
            len(ext) + len(payload),
            first,
            64,
            ipaddress.ip_address(src).packed,
            ipaddress.ip_address(dst).packed,
        )
        + ext
        + payload
    )


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, payload: bytes = b"", seq: int = 1000, flags: int = 0x18) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def ether(
    ip_packet: bytes,
    smac: bytes = CLIENT_MAC,
    dmac: bytes = GATEWAY_MAC,
    v6: bool = False,
    vlan: int | None = None,
) -> bytes:
    ethertype = 0x86DD if v6 else 0x0800
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dmac + smac + tag + struct.pack("!H", ethertype) + ip_packet


def udp4(src: str, sport: int, dst: str, dport: int, payload: bytes, **kw: object) -> bytes:
    return ether(ipv4(src, dst, 17, udp(sport, dport, payload)), **kw)  # type: ignore[arg-type]


def tcp4(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    payload: bytes = b"",
    seq: int = 1000,
    flags: int = 0x18,
    **kw: object,
) -> bytes:
    return ether(ipv4(src, dst, 6, tcp(sport, dport, payload, seq, flags)), **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- DNS


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"


def dns_query(name: str, ident: int = 0x1234, qtype: int = 1) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", qtype, 1)


def dns_response(
    name: str, addresses: Sequence[bytes], ident: int = 0x1234, cname: str | None = None, ttl: int = 60
) -> bytes:
    """A response whose answers point back at the question by compression pointer (0xc00c)."""
    answers = b""
    count = 0
    owner = b"\xc0\x0c"
    if cname is not None:
        target = dns_name(cname)
        answers += owner + struct.pack("!HHIH", 5, 1, ttl, len(target)) + target
        owner = dns_name(cname)
        count += 1
    for addr in addresses:
        rtype = 1 if len(addr) == 4 else 28
        answers += owner + struct.pack("!HHIH", rtype, 1, ttl, len(addr)) + addr
        count += 1
    question = dns_name(name) + struct.pack("!HH", 1, 1)
    return struct.pack("!HHHHHH", ident, 0x8180, 1, count, 0, 0) + question + answers


# ---------------------------------------------------------------- TLS


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(body)) + body


def client_hello(
    sni: str | None,
    pq: bool = False,
    alpn: Sequence[str] = ("h2", "http/1.1"),
    quic: bool = False,
    sni_last: bool | None = None,
) -> bytes:
    """A TLS 1.3 ClientHello handshake message (with its 4-byte header). ``pq`` adds an X25519MLKEM768
    key share (1,216 bytes of key material), which pushes the hello past one TCP segment; the server_name
    extension then comes last, after the key shares (browsers shuffle their extensions), so the name is only
    readable once the segments are joined, unless ``sni_last`` is False."""
    ext = b""
    server_name = b""
    if sni is not None:
        name = sni.encode()
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        server_name = _ext(0, struct.pack("!H", len(entry)) + entry)
    if not (pq if sni_last is None else sni_last):
        ext, server_name = server_name, b""
    if alpn:
        protos = b"".join(bytes([len(p)]) + p.encode() for p in alpn)
        ext += _ext(16, struct.pack("!H", len(protos)) + protos)
    ext += _ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    shares = struct.pack("!HH", 0x001D, 32) + os.urandom(32)
    if pq:
        shares = struct.pack("!HH", 0x11EC, 1216) + os.urandom(1216) + shares
    ext += _ext(51, struct.pack("!H", len(shares)) + shares)
    if quic:
        ext += _ext(0x39, b"\x01\x04\x80\x00\xea\x60")  # max_idle_timeout
    if pq:
        ext += _ext(21, b"\x00" * 400)  # padding extension, as browsers add: ~1.8 KB in all
    ext += server_name
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32)
    body += struct.pack("!H", 6) + b"\x13\x01\x13\x02\x13\x03" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    return b"\x01" + len(body).to_bytes(3, "big") + body


def tls_record(handshake: bytes) -> bytes:
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


# ---------------------------------------------------------------- QUIC


def varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return struct.pack("!H", 0x4000 | value)
    return struct.pack("!I", 0x80000000 | value)


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def quic_initial(
    dcid: bytes,
    scid: bytes,
    frames: bytes,
    version: int = 1,
    pn: int = 0,
    server: bool = False,
    min_size: int = 1200,
) -> bytes:
    """A protected Initial packet (RFC 9001 section 5), padded to ``min_size``."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from agent.dpi.quic import initial_keys

    keys = initial_keys(dcid, version, server=server)
    pn_len = 2
    packet_type = 1 if version == 0x6B3343CF else 0
    first = 0xC0 | (packet_type << 4) | (pn_len - 1)
    head = bytes([first]) + struct.pack("!I", version) + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    head += varint(0)  # no token
    overhead = len(head) + 2 + pn_len + 16
    if overhead + len(frames) < min_size:
        frames += b"\x00" * (min_size - overhead - len(frames))
    length = pn_len + len(frames) + 16
    head += struct.pack("!H", 0x4000 | length)
    pn_offset = len(head)
    header = head + pn.to_bytes(pn_len, "big")
    nonce = bytearray(keys.iv)
    for i in range(8):
        nonce[11 - i] ^= (pn >> (8 * i)) & 0xFF
    sealed = AESGCM(keys.key).encrypt(bytes(nonce), frames, header)
    sample = sealed[4 - pn_len : 20 - pn_len]
    encryptor = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        protected[pn_offset + i] ^= mask[1 + i]
    return bytes(protected) + sealed


def gquic_chlo(sni: str, version: bytes = b"Q043") -> bytes:
    """A clear-text Google QUIC client packet (public header) carrying a CHLO with an SNI tag."""
    tags = [(b"PAD\x00", b"\x2d" * 1000), (b"SNI\x00", sni.encode()), (b"VER\x00", version)]
    table = b""
    values = b""
    for tag, value in tags:
        values += value
        table += tag + struct.pack("<I", len(values))
    message = b"CHLO" + struct.pack("<HH", len(tags), 0) + table + values
    frame = b"\xa0\x01\x00" + struct.pack(">H", len(message)) + message  # stream frame, stream 1
    header = b"\x09" + os.urandom(8) + version + b"\x01"  # flags: version + 8-byte CID, 1-byte PN
    return header + b"\x00" * 12 + frame  # 12-byte message hash


# ---------------------------------------------------------------- capture files


def pcap_file(
    frames: Sequence[bytes], linktype: int = 1, big_endian: bool = False, nanos: bool = False
) -> bytes:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, frame in enumerate(frames):
        out += struct.pack(e + "IIII", 1700000000 + i, 500, len(frame), len(frame)) + frame
    return out


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def pcapng_file(frames: Sequence[bytes], linktype: int = 1, tsresol: int | None = 9) -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = b""
    if tsresol is not None:
        options = struct.pack("<HHB", 9, 1, tsresol) + b"\x00" * 3 + struct.pack("<HH", 0, 0)
    idb = _block(1, struct.pack("<HHI", linktype, 0, 65535) + options)
    out = shb + idb
    for i, frame in enumerate(frames):
        ts = (1700000000 + i) * (10 ** (tsresol or 6))
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
        out += _block(6, body)
    out += _block(5, b"\x00" * 8)  # an interface statistics block, to be skipped
    return out
