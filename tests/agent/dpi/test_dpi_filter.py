"""The kernel filter's generated signature code against the signature table it is generated from, the
kernel checker's rules, and what the agent names through the filter on both shared capture sets.

The figures themselves (pass rates, agreement) are printed by ``bench/dpi.py``; here they are held to the
issue's goals and to a ceiling on what the filter lets through.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.dpi import DpiError, bpf, tls
from agent.dpi import signatures as sig
from agent.dpi.classifier import Classifier
from agent.dpi.offline import ethernet_view, filter_passes, iter_records
from agent.dpi.pcapfile import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, read_frames
from tests.agent.dpi import dpi_wire as w
from tests.agent.dpi import ndpi_reference as ref
from tests.agent.dpi.test_dpi_signatures import discord_discovery, stun_message

PROGRAM = bpf.program()
STATION, SERVER = "192.168.1.20", "198.51.100.30"

# One constructed payload per signature (the layouts of test_dpi_signatures.py), each named by Python.
UDP_SAMPLES = [
    bytes.fromhex("01") + bytes(8) + sig.RAKNET_MAGIC + bytes(8),  # unconnected ping
    bytes.fromhex("05") + sig.RAKNET_MAGIC + b"\x0b" + bytes(1200),  # open connection request 1
    discord_discovery(1),
    discord_discovery(2),
    b"\x13\x37\xca\xfe\x0e\x00\x00\x00",
    b"\x00NETCODE 1.02\x00" + bytes(1064),
    b"\xff\xff\xff\xffTSource Engine Query\x00",
    b"\x01\x00\x00\x00" + bytes(144),
    b"\xff\xff\x00\x01" + bytes(8) + b"\x02\xff\x01\x04" + bytes(12),
    bytes([60, 0, 0, 0x08, 0xED]) + bytes(11) + b"\x01\0\0\0\x07\0\0\0\x03\x07" + bytes(44),
    b"app.start,env=production," + b"x" * 100,
    b"\x02\x3b\x0b\x00\x01\x00\x17" + bytes(36) + b"\x03",
    b"\x00\x00\x00\x01\x00\x00\x00\x00ping",
    stun_message(0x0113, [(0x0014, b"signal.org")]),
    b"\x04\x00\x00\x00" + bytes(65),
]
TCP_SAMPLES = [
    b"WA\x06\x03" + bytes(20),
    b"ED\x00\x01",
    b"\xce\xfa\xbe\xba\x00\x00\x00\x80",
    b"\x33\x66\x00\x0b\x00\x0b" + bytes(60),
    (20).to_bytes(2, "big") + stun_message(0x0003, []),
]


@pytest.mark.parametrize("payload", UDP_SAMPLES)
def test_udp_signature_packets_pass_the_filter(payload: bytes) -> None:
    assert sig.udp_signature(payload) is not None
    for frame in (
        w.udp4(STATION, 50000, SERVER, 7777, payload),
        w.ether(w.ipv6("fd00::2", "2001:db8::1", 17, w.udp(50000, 7777, payload)), v6=True),
    ):
        assert bpf.run(PROGRAM, frame) == len(frame)


@pytest.mark.parametrize("payload", TCP_SAMPLES)
def test_tcp_signature_segments_pass_the_filter(payload: bytes) -> None:
    assert sig.tcp_signature(payload) is not None
    frame = w.tcp4(STATION, 50000, SERVER, 5222, payload)
    assert bpf.run(PROGRAM, frame) == len(frame)


def _planted(data: bytes, lead: sig.Lead, size: int) -> bytes:
    """``data`` resized to ``size`` with a lead's fixed bytes written in (so that matches are not rare)."""
    out = bytearray((data * (size // max(len(data), 1) + 1))[:size] if data else bytes(size))
    for offset, value, mask in lead.fixed:
        start = offset if offset >= 0 else size + offset
        if start >= 0 and start + len(value) <= size:
            for index, byte in enumerate(value):  # bits outside the mask keep the random data's
                free = 0xFF ^ (mask[index] if mask is not None else 0xFF)
                out[start + index] = byte | (out[start + index] & free)
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(0, len(sig.udp_leads()) - 1), st.integers(0, 1023), st.booleans())
def test_udp_filter_passes_exactly_what_a_lead_matches(
    data: bytes, which: int, size: int, plant: bool
) -> None:
    """The generated code and :meth:`Lead.matches` agree on any datagram (below QUIC's padded size, to a
    port that is not a name service), planted lead or not: the kernel and the rules cannot drift apart."""
    lead = sig.udp_leads()[which]
    payload = _planted(data, lead, lead.size if lead.size is not None and plant else size) if plant else data
    expected = any(candidate.matches(payload) for candidate in sig.udp_leads())
    frame = w.udp4(STATION, 50000, SERVER, 7777, payload)
    assert bool(bpf.run(PROGRAM, frame)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=1, max_size=64),
    st.integers(0, len(sig.tcp_leads()) - 1),
    st.integers(4, 1500),
    st.booleans(),
)
def test_tcp_filter_passes_exactly_what_a_lead_matches(
    data: bytes, which: int, size: int, plant: bool
) -> None:
    lead = sig.tcp_leads()[which]
    payload = _planted(data, lead, size) if plant else data
    if payload[:1] == b"\x16" or payload[:4] in (
        b"GET ",
        b"POST",
        b"HEAD",
        b"PUT ",
        b"OPTI",
        b"DELE",
        b"CONN",
        b"PATC",
    ):
        return  # TLS records and HTTP requests pass for their own reasons
    expected = any(candidate.matches(payload) for candidate in sig.tcp_leads())
    frame = w.tcp4(STATION, 50000, SERVER, 5222, payload)  # not 443: no ClientHello continuation rule
    assert bool(bpf.run(PROGRAM, frame)) == expected


def test_a_rule_never_fires_without_its_lead() -> None:
    # A Source query whose first word is not 0xFFFFFFFF would pass a looser test, but not its lead.
    assert all(rule.leads for rule in (*sig.UDP_RULES, *sig.TCP_RULES))
    late_magic = bytes(30) + sig.RAKNET_MAGIC  # the magic where no documented message puts it
    assert sig.is_raknet(late_magic) and sig.udp_signature(late_magic) is None
    with pytest.raises(ValueError):
        sig.Lead(((0, b"\x01\x02", None),), size=1)  # tests bytes past its own size


def test_checker_refuses_what_the_kernel_refuses() -> None:
    with pytest.raises(DpiError, match="scratch word 5"):
        bpf.check(
            bpf.assemble(
                [
                    ("ld_imm", 0),
                    ("jeq", 0, "a", "b"),
                    "a:",
                    ("st", 5),
                    ("ret", 0),
                    "b:",
                    ("ld_mem", 5),
                    ("ret", 0),
                ]
            )
        )
    with pytest.raises(DpiError, match="return"):
        bpf.check(bpf.assemble([("ld_imm", 0)]))
    bpf.check(bpf.assemble([("ld_imm", 0), ("st", 5), ("ld_mem", 5), ("ret", 0)]))


def test_partial_client_hello_names_the_flow_once_the_name_is_in() -> None:
    record = w.tls_record(w.client_hello("early.example", pq=True, sni_last=False))
    reasm = tls.TlsReassembler(isn=0)
    hello = reasm.add(1, record[:600])  # the rest never reaches the agent (a continuation the filter drops)
    assert hello is not None and hello.sni == "early.example"
    late = w.tls_record(w.client_hello("late.example", pq=True))
    assert tls.TlsReassembler(isn=0).add(1, late[:600]) is None  # the name is still to come
    name = w.tls_record(w.client_hello("cut.example", sni_last=False))
    cut = name.index(b"cut.example") + 4
    assert tls.parse_partial_client_hello(tls.handshake_from_records(name[:cut])) is None


def test_ethernet_view_of_other_link_types() -> None:
    ip = w.ipv4(STATION, SERVER, 17, w.udp(50000, 53, w.dns_query("a.example")))
    expected = bpf.run(PROGRAM, w.ether(ip))
    assert expected and filter_passes(PROGRAM, LINKTYPE_RAW, ip) == expected
    sll = b"\x00\x04\x00\x01\x00\x06" + w.CLIENT_MAC + b"\x00\x00\x08\x00" + ip
    assert filter_passes(PROGRAM, LINKTYPE_LINUX_SLL, sll) == expected
    tagged = w.ether(ip)[:12] + b"\x81\x00\x00\x05" + w.ether(ip)[12:]
    assert ethernet_view(LINKTYPE_ETHERNET, tagged) == w.ether(ip)
    assert ethernet_view(LINKTYPE_RAW, b"\x50" + ip[1:]) is None


def _set(name: str) -> Path:
    directory = ref.shared_dpi_dir().parent / name
    if not (directory / "expected_flows.jsonl").exists():
        pytest.fail(
            f"shared DPI test data not found at {directory}: set HOMESCOPE_SHARED to the shared/ folder"
        )
    return directory


# The goals, for what the agent names through its kernel filter; and a ceiling on the share of
# frames the filter passes (measured 17.4% and 21.8%: see docs/dpi.md).
GOALS = {"dpi": (0.99, 0.97, 0.19), "dpi-more": (0.99, 0.95, 0.24)}


@pytest.mark.parametrize("name", sorted(GOALS))
def test_agreement_through_the_filter_and_its_cost(name: str) -> None:
    host_min, category_min, pass_max = GOALS[name]
    directory = _set(name)
    files = sorted(str(p) for p in (directory / "pcap").iterdir() if p.is_file())
    result = ref.compare(ref.load_expected(directory), iter_records(files, Classifier(), kernel_filter=True))
    print(
        f"\n{name} through the kernel filter: hostname {result.host_agree}/{result.host_total}, category "
        f"{result.category_agree}/{result.category_total}"
    )
    for miss in result.host_misses + result.category_misses:
        print("  ", miss)
    assert result.host_rate >= host_min and result.category_rate >= category_min, result.as_dict()
    frames = passed = 0
    for path in files:
        for frame in read_frames(path):
            frames += 1
            passed += bool(filter_passes(PROGRAM, frame.linktype, frame.data))
    assert passed / frames <= pass_max, (passed, frames)
