"""conntrack parsing (recorded fixtures), the kernel filter program, usage aggregation and the monitor's
two ways of counting bytes, with fake packet sources and a fake /proc reader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.dpi import bpf, conntrack
from agent.dpi.classifier import Classifier
from agent.dpi.monitor import DpiMonitor, parse_arp
from agent.dpi.packet import Packet, decode
from agent.dpi.usage import UsageWindow
from tests.agent.dpi import dpi_wire as w
from tests.agent.dpi.ndpi_reference import repo_root

OPENWRT = (
    Path(os.environ.get("HOMESCOPE_SHARED", str(repo_root().parent / "shared"))) / "testdata" / "openwrt"
)


def _fixture(name: str) -> str:
    path = OPENWRT / name
    if not path.exists():
        pytest.fail(f"shared fixture {path} missing: set HOMESCOPE_SHARED to the shared/ folder")
    return path.read_text()


# ---------------------------------------------------------------- conntrack


def test_conntrack_constructed_fixture() -> None:
    entries = conntrack.parse(_fixture("nf_conntrack.CONSTRUCTED.txt"))
    assert len(entries) == 6
    tcp = entries[0]
    assert (tcp.proto, tcp.state, tcp.timeout, tcp.accounted) == (6, "ESTABLISHED", 7439, True)
    assert (tcp.original.sport, tcp.original.dport, tcp.original.bytes, tcp.reply.bytes) == (
        51544,
        443,
        98231,
        3120044,
    )
    assert "ASSURED" in tcp.flags and not tcp.offloaded
    udp_dns = entries[2]
    assert udp_dns.state is None and udp_dns.original.dport == 53
    assert entries[3].flags == {"UNREPLIED"}
    v6 = entries[5]
    assert v6.family == 6 and len(v6.original.src) == 16 and v6.original.bytes == 5521


def test_conntrack_hardware_offload_fixture() -> None:
    text = _fixture("nf_conntrack.openwrt-issue17915.txt")
    assert conntrack.parse(text) == []  # the reporter masked the addresses: such lines are skipped
    unmasked = text.replace("x.x.x.x", "198.51.100.9").replace("y.y.y.y", "203.0.113.7")
    offloaded, software = conntrack.parse(unmasked)
    assert offloaded.offloaded and offloaded.timeout is None and offloaded.original.bytes == 4600
    assert not software.offloaded and software.timeout == 149


def test_conntrack_tools_format_and_garbage() -> None:
    line = (
        "tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.0.0.1 sport=1 dport=2 "
        "src=10.0.0.1 dst=10.0.0.2 sport=2 dport=1 [ASSURED] mark=0 use=1"
    )
    entry = conntrack.parse_line(line)
    assert entry is not None and entry.family == 4 and not entry.accounted
    for bad in ("", "ipv4 2 tcp", "ipv4 2 tcp 6 1 src=1.2.3.4", "garbage line with = signs"):
        assert conntrack.parse_line(bad) is None


def test_arp_table() -> None:
    table = parse_arp(_fixture("proc_net_arp.linux-sample.txt"))
    assert table == {bytes([192, 0, 2, 1]): "02:fc:00:00:00:05"}


# ---------------------------------------------------------------- kernel filter

PROGRAM = bpf.program()


@pytest.mark.parametrize(
    ("frame", "kept"),
    [
        (
            w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, w.tls_record(w.client_hello("a.example"))),
            bpf.SNAP_ALL,
        ),
        (w.tcp4("192.168.1.2", 40000, "203.0.113.1", 80, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), bpf.SNAP_ALL),
        (w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, flags=0x02), bpf.SNAP_HEADERS),  # SYN
        (w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, flags=0x10), 0),  # pure ACK
        (w.tcp4("203.0.113.1", 443, "192.168.1.2", 40000, b"\x17\x03\x03" + b"x" * 1400), 0),  # bulk data
        (w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, b"\xab" * 400), bpf.SNAP_ALL),  # hello continuation
        (
            w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, b"\xab" * 1400),
            0,
        ),  # full-size: not a continuation
        (w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, b"\x17\x03\x03\x00\x20" + b"x" * 32), 0),
        (w.udp4("192.168.1.2", 40000, "192.168.1.1", 53, w.dns_query("a.example")), bpf.SNAP_ALL),
        (
            w.udp4(
                "192.168.1.1", 53, "192.168.1.2", 40000, w.dns_response("a.example", [b"\x01\x02\x03\x04"])
            ),
            bpf.SNAP_ALL,
        ),
        (
            w.udp4(
                "192.168.1.2",
                40000,
                "203.0.113.1",
                443,
                w.quic_initial(os.urandom(8), os.urandom(8), w.crypto_frame(0, w.client_hello("q.example"))),
            ),
            bpf.SNAP_ALL,
        ),
        (
            w.udp4("192.168.1.2", 40000, "203.0.113.1", 443, b"\x40" + os.urandom(1300)),
            0,
        ),  # QUIC short header
        (w.udp4("192.168.1.2", 40000, "203.0.113.1", 443, b"\xc0" + os.urandom(200)), 0),  # small long header
        (w.udp4("192.168.1.2", 40000, "203.0.113.1", 443, w.gquic_chlo("y.example")), bpf.SNAP_ALL),
        (
            w.udp4(
                "192.168.1.2", 40000, "203.0.113.1", 3478, bytes.fromhex("000100002112a442") + b"\x00" * 12
            ),
            bpf.SNAP_ALL,
        ),
        (w.udp4("192.168.1.2", 40000, "203.0.113.1", 9000, b"\x80" * 200), 0),  # RTP
        (
            w.ether(
                w.ipv6(
                    "fd00::2", "2001:db8::1", 6, w.tcp(40000, 443, w.tls_record(w.client_hello("v6.example")))
                ),
                v6=True,
            ),
            bpf.SNAP_ALL,
        ),
        (w.GATEWAY_MAC + w.CLIENT_MAC + b"\x08\x06" + b"\x00" * 28, 0),  # ARP
    ],
)
def test_filter_program(frame: bytes, kept: int) -> None:
    assert bpf.run(PROGRAM, frame) == min(kept, len(frame))


def test_filter_counting_mode_keeps_headers_of_everything_else() -> None:
    counting = bpf.program(count_all=True)
    ack = w.tcp4("192.168.1.2", 40000, "203.0.113.1", 443, flags=0x10)
    assert bpf.run(counting, ack) == len(ack)
    bulk = w.tcp4("203.0.113.1", 443, "192.168.1.2", 40000, b"\x17\x03\x03" + b"x" * 1400)
    assert bpf.run(counting, bulk) == bpf.SNAP_HEADERS


def test_filter_assembles_to_kernel_layout() -> None:
    packed = bpf.pack(PROGRAM)
    assert len(packed) == 8 * len(PROGRAM) and len(PROGRAM) < bpf.MAX_INSTRUCTIONS
    bpf.check(PROGRAM)  # what the kernel's checker refuses (the live test attaches it to a real socket)
    bpf.check(bpf.program(count_all=True))


# ---------------------------------------------------------------- usage and monitor


def test_usage_window_shape_and_active_minutes() -> None:
    window = UsageWindow()
    window.add("aa:bb:cc:dd:ee:ff", "netflix", "video", 100, 5000, ts=60.0, new_flow=True)
    window.add("aa:bb:cc:dd:ee:ff", "youtube", "video", 10, 9000, ts=75.0, new_flow=True)
    window.add("aa:bb:cc:dd:ee:ff", "netflix", "video", 0, 3000, ts=200.0)
    (row,) = window.report()
    assert row == {
        "station": "aa:bb:cc:dd:ee:ff",
        "category": "video",
        "bytes_up": 110,
        "bytes_down": 17000,
        "flows": 2,
        "active_minutes": 2,
        "top_apps": ["youtube", "netflix"],
    }
    assert window.report() == []


class FakeSource:
    def __init__(self, frames: list[bytes]) -> None:
        self.packets: list[Packet] = []
        for i, frame in enumerate(frames):
            packet = decode(1, frame)
            assert packet is not None
            packet.ts = 1000.0 + i
            self.packets.append(packet)
        self.closed = False

    def read(self, timeout: float = 0.0, limit: int = 10_000) -> list[Packet]:
        out, self.packets = self.packets, []
        return out

    def close(self) -> None:
        self.closed = True


STATION = "192.168.1.2"
HELLO = w.tcp4(STATION, 40000, "203.0.113.10", 443, w.tls_record(w.client_hello("www.netflix.com")))


def test_monitor_capture_mode_counts_packets_and_keeps_privacy() -> None:
    frames = [HELLO] + [
        w.tcp4("203.0.113.10", 443, STATION, 40000, b"\x17" * 1000, smac=w.GATEWAY_MAC, dmac=w.CLIENT_MAC)
    ] * 3
    monitor = DpiMonitor(
        Classifier(), source=FakeSource(frames), volumes="capture", debug_events=True, clock=lambda: 1010.0
    )
    assert monitor.poll() == 4
    (row,) = monitor.report()
    assert row["station"] == "02:00:00:00:00:01" and row["category"] == "video"
    assert row["top_apps"] == ["netflix"] and row["flows"] == 1 and row["bytes_down"] == 3 * 1040
    text = repr(row)
    assert "netflix.com" not in text and "203.0.113" not in text
    monitor.inspector.finish()
    (event,) = monitor.take_events()
    assert event["host"] == "www.netflix.com" and event["remote"] == "203.0.113.10:443"


def test_monitor_conntrack_mode_uses_counters_and_names_from_handshakes() -> None:
    proc = {
        "/proc/net/nf_conntrack": "",
        "/proc/net/arp": "IP address HW type Flags HW address Mask Device\n"
        "192.168.1.3 0x1 0x2 02:00:00:00:00:03 * br-lan\n",
    }

    def line(sport: int, dst: str, dport: int, up: int, down: int, src: str = STATION) -> str:
        return (
            f"ipv4 2 tcp 6 300 ESTABLISHED src={src} dst={dst} sport={sport} dport={dport} packets=1 "
            f"bytes={up} src={dst} dst=198.51.100.1 sport={dport} dport={sport} packets=1 bytes={down} "
            "[ASSURED] mark=0 zone=0 use=2\n"
        )

    def read(path: str) -> str:
        return proc[path]

    clock = [1000.0]
    monitor = DpiMonitor(
        Classifier(), source=FakeSource([HELLO]), read=read, volumes="auto", clock=lambda: clock[0]
    )
    assert monitor.volumes == "conntrack"
    monitor.poll()
    proc["/proc/net/nf_conntrack"] = line(40000, "203.0.113.10", 443, 500, 10_000)
    monitor.tick(1000.0)  # first read: a baseline, earlier bytes are not this window's
    proc["/proc/net/nf_conntrack"] = line(40000, "203.0.113.10", 443, 800, 60_000) + line(
        41000, "203.0.113.99", 993, 100, 200, src="192.168.1.3"
    )
    clock[0] = 1070.0
    rows = {(r["station"], r["category"]): r for r in monitor.report()}
    video = rows[("02:00:00:00:00:01", "video")]
    assert (video["bytes_up"], video["bytes_down"], video["top_apps"]) == (300, 50_000, ["netflix"])
    mail = rows[("02:00:00:00:00:03", "messaging")]  # no handshake seen: named by its port, MAC from ARP
    assert (mail["bytes_up"], mail["bytes_down"], mail["flows"], mail["top_apps"]) == (100, 200, 1, ["email"])


def test_monitor_falls_back_to_capture_without_accounting() -> None:
    text = (
        "ipv4 2 tcp 6 300 ESTABLISHED src=192.168.1.2 dst=203.0.113.1 sport=1 dport=2 "
        "src=203.0.113.1 dst=198.51.100.1 sport=2 dport=1 [ASSURED] mark=0 use=2\n"
    )
    monitor = DpiMonitor(Classifier(), source=FakeSource([]), read=lambda _p: text)
    assert monitor.volumes == "capture"

    def missing(_path: str) -> str:
        raise OSError(2, "no such file")

    assert DpiMonitor(Classifier(), source=FakeSource([]), read=missing).volumes == "capture"
