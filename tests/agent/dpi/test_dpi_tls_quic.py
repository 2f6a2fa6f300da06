"""TLS ClientHello parsing and reassembly; QUIC Initial keys (RFC test vectors), decryption, CRYPTO frame
reassembly across and within packets, and Google QUIC CHLOs."""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.dpi import DpiError, quic, tls
from tests.agent.conftest import Line
from tests.agent.dpi import dpi_wire as w

pytest.importorskip("cryptography")


# ---------------------------------------------------------------- TLS


def test_client_hello_sni_and_alpn() -> None:
    hello = tls.parse_client_hello(w.client_hello("Www.Example.COM"))
    assert hello.sni == "www.example.com" and hello.alpn == ("h2", "http/1.1") and not hello.ech


def test_client_hello_without_sni() -> None:
    assert tls.parse_client_hello(w.client_hello(None)).sni is None


@pytest.mark.parametrize("cut", [0, 3, 10, 50, 100])
def test_client_hello_truncated(cut: int) -> None:
    with pytest.raises(DpiError):
        tls.parse_client_hello(w.client_hello("a.example")[:cut])


def test_client_hello_lying_lengths() -> None:
    hello = bytearray(w.client_hello("a.example"))
    hello[4 + 2 + 32] = 250  # session id length far past the message
    with pytest.raises(DpiError):
        tls.parse_client_hello(bytes(hello))


def _segments(record: bytes, sizes: list[int]) -> list[tuple[int, bytes]]:
    out, pos, seq = [], 0, 5000
    for size in sizes:
        out.append((seq + pos, record[pos : pos + size]))
        pos += size
    out.append((seq + pos, record[pos:]))
    return [s for s in out if s[1]]


def test_reassembly_of_a_post_quantum_hello_in_order() -> None:
    record = w.tls_record(w.client_hello("pq.example.org", pq=True))
    assert len(record) > 1460
    segments = _segments(record, [1448])
    reasm = tls.TlsReassembler(isn=4999)
    assert reasm.add(*segments[0]) is None
    hello = reasm.add(*segments[1])
    assert hello is not None and hello.sni == "pq.example.org"


def test_reassembly_out_of_order_with_retransmission_and_no_syn() -> None:
    record = w.tls_record(w.client_hello("ooo.example.org", pq=True))
    first, second, third = _segments(record, [700, 700])
    reasm = tls.TlsReassembler()  # SYN not seen: the stream starts at the segment that starts a record
    assert reasm.add(*third) is None
    assert reasm.add(*second) is None
    assert reasm.add(*second) is None  # retransmission
    hello = reasm.add(*first)
    assert hello is not None and hello.sni == "ooo.example.org"


def test_hello_spread_over_two_records() -> None:
    handshake = w.client_hello("two.records.example")
    half = len(handshake) // 2
    stream = (
        b"\x16\x03\x01"
        + len(handshake[:half]).to_bytes(2, "big")
        + handshake[:half]
        + b"\x16\x03\x01"
        + len(handshake[half:]).to_bytes(2, "big")
        + handshake[half:]
    )
    hello = tls.TlsReassembler(isn=0).add(1, stream)
    assert hello is not None and hello.sni == "two.records.example"


def test_reassembler_gives_up_on_non_tls_and_bounds_memory() -> None:
    reasm = tls.TlsReassembler(isn=0)
    assert reasm.add(1, b"\x17\x03\x03\x00\x10" + b"x" * 16) is None and reasm.failed
    big = tls.TlsReassembler()
    big.add(0, b"\x16\x03\x01\xff\xff\x01" + b"\x00" * 1000)
    for i in range(1, 40):
        big.add(i * 1006, b"\x00" * 1006)
    assert big.failed and big.buffered <= tls.MAX_STREAM


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_tls_random_bytes(data: bytes) -> None:
    with contextlib.suppress(DpiError):
        tls.parse_client_hello(b"\x01" + len(data).to_bytes(3, "big") + data)
    tls.TlsReassembler(isn=0).add(1, b"\x16\x03\x01" + data)


# ---------------------------------------------------------------- QUIC keys: RFC 9001 A.1 and RFC 9369 A.1


def test_initial_keys_v1_rfc9001_vector() -> None:
    keys = quic.initial_keys(bytes.fromhex("8394c8f03e515708"), quic.VERSION_1)
    assert keys.key.hex() == "1f369613dd76d5467730efcbe3b1a22d"
    assert keys.iv.hex() == "fa044b2f42a3fd3b46fb255c"
    assert keys.hp.hex() == "9f50449e04a0e810283a1e9933adedd2"


def test_initial_keys_v2_rfc9369_vector() -> None:
    keys = quic.initial_keys(bytes.fromhex("8394c8f03e515708"), quic.VERSION_2)
    assert keys.key.hex() == "8b1a0bc121284290a29e0971b5cd045d"
    assert keys.iv.hex() == "91f73e2351d8fa91660e909f"
    assert keys.hp.hex() == "45b95e15235d6f45a6b19cbcb0294ba9"


def test_unknown_version_has_no_keys() -> None:
    assert quic.version_info(0x1A2A3A4A) is None
    with pytest.raises(DpiError):
        quic.initial_keys(b"12345678", 0x1A2A3A4A)


# ---------------------------------------------------------------- QUIC Initial reading


@pytest.mark.parametrize("version", [quic.VERSION_1, quic.VERSION_2, 0xFF00001D, 0xFACEB002])
def test_single_initial(version: int) -> None:
    dcid, scid = os.urandom(8), os.urandom(8)
    hello = w.client_hello("quic.example.net", quic=True, alpn=("h3",))
    datagram = w.quic_initial(dcid, scid, w.crypto_frame(0, hello), version=version)
    assert len(datagram) >= 1200
    assert quic.QuicReassembler().add(datagram) == "quic.example.net"


def test_hello_split_over_packets_out_of_order_and_within_a_packet() -> None:
    dcid, scid = os.urandom(8), os.urandom(8)
    hello = w.client_hello("split.example.net", pq=True, quic=True, alpn=("h3",))
    cut = [0, 300, 900, 1300, len(hello)]
    chunks = [(cut[i], hello[cut[i] : cut[i + 1]]) for i in range(4)]
    # Packet 0 carries chunks 3 then 0 (reordered inside the packet, with a PING between), packet 1 the rest.
    p0 = w.quic_initial(dcid, scid, w.crypto_frame(*chunks[3]) + b"\x01" + w.crypto_frame(*chunks[0]), pn=0)
    p1 = w.quic_initial(dcid, scid, w.crypto_frame(*chunks[2]) + w.crypto_frame(*chunks[1]), pn=1)
    reasm = quic.QuicReassembler()
    assert reasm.add(p1) is None  # the later packet arrives first
    assert reasm.buffered > 0
    assert reasm.add(p0) == "split.example.net"


def test_coalesced_packets_and_server_initials_are_ignored() -> None:
    dcid, scid = os.urandom(8), os.urandom(8)
    hello = w.client_hello("coalesced.example", quic=True)
    server_initial = w.quic_initial(
        scid, dcid, w.crypto_frame(0, b"\x02\x00\x00\x00"), server=True, min_size=0
    )
    reasm = quic.QuicReassembler()
    assert reasm.add(server_initial) is None  # another DCID and the server's keys
    client = w.quic_initial(dcid, scid, w.crypto_frame(0, hello), min_size=0)
    assert quic.QuicReassembler().add(client + server_initial) == "coalesced.example"


def test_corrupted_initial_does_not_authenticate() -> None:
    dcid, scid = os.urandom(8), os.urandom(8)
    datagram = bytearray(w.quic_initial(dcid, scid, w.crypto_frame(0, w.client_hello("x.example"))))
    datagram[-5] ^= 0xFF
    reasm = quic.QuicReassembler()
    assert reasm.add(bytes(datagram)) is None and reasm.recognised


def test_gquic_chlo() -> None:
    packet = w.gquic_chlo("www.youtube.com", b"Q043")
    assert quic.is_gquic_client(packet)
    assert quic.QuicReassembler().add(packet) == "www.youtube.com"
    with pytest.raises(DpiError):
        quic.parse_chlo(b"CHLO\xff\x00\x00\x00")


@given(st.binary(min_size=1, max_size=1300))
@settings(max_examples=200, deadline=None)
def test_quic_random_datagrams(data: bytes) -> None:
    reasm = quic.QuicReassembler()
    reasm.add(bytes([0xC0]) + b"\x00\x00\x00\x01" + data)
    reasm.add(data)


def test_quic_fuzzed_valid_packets() -> None:
    rng = random.Random(7)
    base = w.quic_initial(os.urandom(8), os.urandom(8), w.crypto_frame(0, w.client_hello("f.example")))
    for _ in range(300):
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        quic.QuicReassembler().add(bytes(mutated[: rng.randint(1, len(mutated))]))


def test_without_cryptography_quic_names_are_off_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, agent_log: Callable[[], list[Line]]
) -> None:
    datagram = w.quic_initial(os.urandom(8), os.urandom(8), w.crypto_frame(0, w.client_hello("n.example")))
    monkeypatch.setattr(quic, "_CRYPTO_STATE", {})
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers", None)
    assert quic.QuicReassembler().add(datagram) is None
    assert quic.QuicReassembler().add(datagram) is None
    assert quic.QuicReassembler().add(w.gquic_chlo("still.example")) == "still.example"  # needs no AES
    assert [(r.level, r.name, r.message) for r in agent_log()] == [
        (
            "WARNING",
            "agent.dpi.quic",
            "QUIC SNI disabled: the optional 'cryptography' package is not installed",
        )
    ]
