"""Capture files, frame decoding, DNS, HTTP and LAN discovery parsers: hand-built inputs, truncations and
random bytes (which may only ever give None/a result or a DpiError)."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.dpi import DpiError, discovery, dns, http
from agent.dpi.packet import TCP, UDP, decode, format_endpoint
from agent.dpi.pcapfile import read_frames
from tests.agent.dpi import dpi_wire as w

FRAME = w.udp4("192.168.1.10", 40000, "192.168.1.1", 53, w.dns_query("www.example.com"))


# ---------------------------------------------------------------- pcap / pcapng


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_both_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool, nanos: bool) -> None:
    path = tmp_path / "x.pcapng"  # the extension lies: the magic decides
    path.write_bytes(w.pcap_file([FRAME, FRAME], big_endian=big_endian, nanos=nanos))
    frames = list(read_frames(str(path)))
    assert [f.data for f in frames] == [FRAME, FRAME]
    assert frames[0].linktype == 1
    assert frames[1].ts == pytest.approx(1700000001 + (500e-9 if nanos else 500e-6))


@pytest.mark.parametrize("tsresol", [None, 6, 9])
def test_pcapng_blocks_and_timestamp_resolution(tmp_path: Path, tsresol: int | None) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(w.pcapng_file([FRAME, FRAME], tsresol=tsresol))
    frames = list(read_frames(str(path)))
    assert [f.data for f in frames] == [FRAME, FRAME]
    assert frames[1].ts == pytest.approx(1700000001)


def test_raw_ip_linktype(tmp_path: Path) -> None:
    raw = w.ipv4("10.0.0.1", "10.0.0.2", 17, w.udp(1234, 53, w.dns_query("a.example")))
    path = tmp_path / "raw.pcap"
    path.write_bytes(w.pcap_file([raw], linktype=101))
    (frame,) = read_frames(str(path))
    packet = decode(frame.linktype, frame.data)
    assert packet is not None and packet.dport == 53 and packet.src_mac is None


def test_truncated_capture_stops_at_last_whole_record(tmp_path: Path) -> None:
    data = w.pcap_file([FRAME, FRAME])
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-10])
    assert len(list(read_frames(str(path)))) == 1


@pytest.mark.parametrize("content", [b"", b"hello world, not a capture", b"\x0a\x0d\x0d\x0a\xff\xff\xff\xff"])
def test_not_a_capture_raises_dpierror(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content + b"\x00" * 40)
    with pytest.raises(DpiError):
        list(read_frames(str(path)))


def test_pcapng_corrupt_block_length(tmp_path: Path) -> None:
    data = bytearray(w.pcapng_file([FRAME]))
    shb_len = struct.unpack_from("<I", data, 4)[0]
    idb_len = struct.unpack_from("<I", data, shb_len + 4)[0]
    struct.pack_into("<I", data, shb_len + idb_len + 4, 13)  # not a multiple of 4
    path = tmp_path / "bad.pcapng"
    path.write_bytes(bytes(data))
    with pytest.raises(DpiError):
        list(read_frames(str(path)))


# ---------------------------------------------------------------- frames


def test_decode_ipv4_udp_with_vlan_and_macs() -> None:
    frame = w.ether(w.ipv4("192.168.1.10", "8.8.8.8", 17, w.udp(5000, 53, b"x")), vlan=7)
    packet = decode(1, frame)
    assert packet is not None
    assert (packet.proto, packet.sport, packet.dport, packet.payload) == (UDP, 5000, 53, b"x")
    assert packet.src_mac == w.CLIENT_MAC and packet.ip_len == 20 + 9
    assert format_endpoint(packet.dst, packet.dport) == "8.8.8.8:53"


def test_decode_pppoe_session() -> None:
    ip = w.ipv4("10.0.0.1", "10.0.0.2", 17, w.udp(1, 2, b"abc"))
    frame = w.GATEWAY_MAC + w.CLIENT_MAC + b"\x88\x64" + b"\x11\x00\x00\x01" + struct.pack("!H", len(ip) + 2)
    packet = decode(1, frame + b"\x00\x21" + ip)
    assert packet is not None and packet.payload == b"abc"


def test_decode_ipv6_with_extension_header_and_bracketed_endpoint() -> None:
    ext = bytes([6, 0]) + b"\x00" * 6  # hop-by-hop, next header TCP
    frame = w.ether(
        w.ipv6("fe80::1", "2001:db8::2", 6, w.tcp(1234, 443, b"hi"), ext=ext, ext_proto=0), v6=True
    )
    packet = decode(1, frame)
    assert packet is not None and packet.proto == TCP and packet.payload == b"hi"
    assert format_endpoint(packet.dst, packet.dport) == "[2001:db8::2]:443"


def test_non_first_fragment_and_non_ip_are_none() -> None:
    assert decode(1, w.ether(w.ipv4("1.1.1.1", "2.2.2.2", 17, b"\x00" * 16, frag=0x0010))) is None
    assert decode(1, w.GATEWAY_MAC + w.CLIENT_MAC + b"\x08\x06" + b"\x00" * 28) is None  # ARP


def test_linux_cooked_capture() -> None:
    ip = w.ipv4("10.0.0.1", "10.0.0.2", 6, w.tcp(1, 2, b"z"))
    sll = struct.pack("!HHH", 0, 1, 6) + w.CLIENT_MAC + b"\x00\x00" + b"\x08\x00"
    packet = decode(113, sll + ip)
    assert packet is not None and packet.src_mac == w.CLIENT_MAC and packet.payload == b"z"


@pytest.mark.parametrize("cut", [5, 14, 20, 30, 37])
def test_truncated_frames_raise_dpierror(cut: int) -> None:
    with pytest.raises(DpiError):
        decode(1, FRAME[:cut])


@given(st.binary(max_size=200), st.sampled_from([1, 101, 113, 0, 276]))
@settings(max_examples=300, deadline=None)
def test_random_frames_never_raise_other_errors(data: bytes, linktype: int) -> None:
    with contextlib.suppress(DpiError):
        decode(linktype, data)


# ---------------------------------------------------------------- DNS


def test_dns_query_and_compressed_answers() -> None:
    query = dns.parse(w.dns_query("WWW.Example.COM"))
    assert not query.is_response and query.questions == [("www.example.com", 1)]
    answer = dns.parse(w.dns_response("www.example.com", [b"\x01\x02\x03\x04"], cname="cdn.example.net"))
    assert answer.is_response
    assert [(a.name, a.rtype, a.value) for a in answer.answers] == [
        ("www.example.com", 5, "cdn.example.net"),
        ("cdn.example.net", 1, b"\x01\x02\x03\x04"),
    ]


def test_dns_compression_loop_is_an_error() -> None:
    looping = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(DpiError, match="loop"):
        dns.parse(looping)


@pytest.mark.parametrize("cut", range(0, 40, 3))
def test_dns_truncations(cut: int) -> None:
    data = w.dns_response("www.example.com", [b"\x01\x02\x03\x04"])[:cut]
    assert dns.try_parse(data) is None


@given(st.binary(max_size=120))
@settings(max_examples=300, deadline=None)
def test_dns_random_bytes(data: bytes) -> None:
    with contextlib.suppress(DpiError):
        dns.parse(data)


# ---------------------------------------------------------------- HTTP and LAN discovery


def test_http_host_and_port() -> None:
    request = http.parse_request(b"GET /x HTTP/1.1\r\nUser-Agent: t\r\nHOST: Art-1.NflxImg.net:8080\r\n\r\n")
    assert request is not None and request.method == "GET" and request.host == "art-1.nflximg.net:8080"
    assert http.strip_port("art-1.nflximg.net:8080") == "art-1.nflximg.net"
    assert http.strip_port("[2001:db8::1]:80") == "2001:db8::1"
    assert http.parse_request(b"GET / HTTP/1.1") is None  # no line end: not a request head yet
    assert http.parse_request(b"\x16\x03\x01\x00") is None


def test_dhcp_hostname_option() -> None:
    bootp = bytearray(240)
    bootp[0] = 1
    bootp[236:240] = discovery.DHCP_MAGIC
    options = b"\x35\x01\x01" + b"\x0c\x0alucas-iMac" + b"\xff"
    assert discovery.dhcp_hostname(bytes(bootp) + options) == "lucas-imac"
    assert discovery.dhcp_hostname(bytes(bootp) + b"\x0c\x40abc") is None  # option overruns the message
    assert discovery.lan_name(68, 67, bytes(bootp) + options) == ("lucas-imac", "dhcp", True)


def test_netbios_name_decoding() -> None:
    name = b"WORKGROUP".ljust(15) + b"\x00"
    encoded = bytes(c for b in name for c in (0x41 + (b >> 4), 0x41 + (b & 0x0F)))
    nbns = struct.pack("!HHHHHH", 1, 0x0110, 1, 0, 0, 0) + b"\x20" + encoded + b"\x00" + b"\x00\x20\x00\x01"
    assert discovery.netbios_name(nbns, 137) == "workgroup"
    assert discovery.netbios_name(nbns[:20], 137) is None


def test_mdns_waits_for_answers() -> None:
    query = w.dns_query("_raop._tcp.local", qtype=12)
    assert discovery.lan_name(5353, 5353, query) == ("_raop._tcp.local", "mdns", False)
    answered = w.dns_response("lucas-imac.local", [b"\xa9\xfe\x01\x02"])
    assert discovery.lan_name(5353, 5353, answered) == ("lucas-imac.local", "mdns", True)


def test_ssdp_host() -> None:
    search = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n\r\n'
    assert discovery.lan_name(50000, 1900, search) == ("239.255.255.250:1900", "ssdp", True)
