"""What stations' DHCP clients say about them (option 60, 55, 12), on constructed DHCP requests.

Each request is built from its client's documented behaviour: Android's DhcpClient (AOSP
``DhcpPacket``: vendor class ``android-dhcp-<release>``, its requested-parameter list), Windows
(vendor class ``MSFT 5.0``), BusyBox udhcpc (``udhcp <version>``, its default requested options) and
dhcpcd (``dhcpcd-<version>:<os>-<release>:<machine>:<platform>``, its ``vendorclassid`` default).
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from agent.dpi import bpf, dhcp, discovery
from agent.dpi.classifier import Classifier
from agent.dpi.monitor import DpiMonitor
from agent.dpi.packet import decode
from agent.dpi.pcapfile import read_frames
from agent.dpi.sampler import AppsSampler
from tests.agent.dpi import dpi_wire as w
from tests.agent.dpi import ndpi_reference as ref
from tests.agent.dpi.test_dpi_volumes import FakeSource

PHONE = bytes.fromhex("3a1b2c3d4e5f")  # a randomised (locally administered) MAC, as phones use


def request(
    mac: bytes,
    kind: int = 1,
    vendor: bytes | None = None,
    parameters: bytes = b"",
    hostname: bytes | None = None,
    htype: int = 1,
) -> bytes:
    """A BOOTREQUEST (RFC 2131 section 2) with its options (RFC 2132), as a client sends it."""
    header = struct.pack("!BBBBIHH", 1, htype, 6, 0, 0x1A2B3C4D, 0, 0x8000) + bytes(16)
    header += mac + bytes(10) + bytes(64) + bytes(128) + dhcp.DHCP_MAGIC
    options = bytes([53, 1, kind])
    if parameters:
        options += bytes([55, len(parameters)]) + parameters
    if vendor is not None:
        options += bytes([60, len(vendor)]) + vendor
    if hostname is not None:
        options += bytes([12, len(hostname)]) + hostname
    return header + options + b"\xff" + bytes(20)  # end, then padding as many clients send


ANDROID = request(PHONE, 1, b"android-dhcp-14", bytes([1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114]), b"Pixel-8")
WINDOWS = request(
    bytes.fromhex("001a2b3c4d5e"),
    3,
    b"MSFT 5.0",
    bytes([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]),
    b"DESKTOP-7QK2M1",
)
UDHCPC = request(bytes.fromhex("a4cf12000001"), 1, b"udhcp 1.36.1", bytes([1, 3, 6, 12, 15, 28, 42]))
DHCPCD = request(
    bytes.fromhex("dca63200a1b2"),
    3,
    b"dhcpcd-10.0.6:Linux-6.6.31+rpt-rpi-v8:aarch64:BCM2835",
    bytes([1, 121, 33, 3, 6, 28, 51, 58, 59]),
    b"raspberrypi",
)


@pytest.mark.parametrize(
    ("payload", "mac", "vendor", "parameters", "hostname"),
    [
        (
            ANDROID,
            "3a:1b:2c:3d:4e:5f",
            "android-dhcp-14",
            (1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114),
            "pixel-8",
        ),
        (
            WINDOWS,
            "00:1a:2b:3c:4d:5e",
            "MSFT 5.0",
            (1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252),
            "desktop-7qk2m1",
        ),
        (UDHCPC, "a4:cf:12:00:00:01", "udhcp 1.36.1", (1, 3, 6, 12, 15, 28, 42), None),
        (
            DHCPCD,
            "dc:a6:32:00:a1:b2",
            "dhcpcd-10.0.6:Linux-6.6.31+rpt-rpi-v8:aarch64:BCM2835",
            (1, 121, 33, 3, 6, 28, 51, 58, 59),
            "raspberrypi",
        ),
    ],
)
def test_client_messages(
    payload: bytes, mac: str, vendor: str, parameters: tuple[int, ...], hostname: str | None
) -> None:
    message = dhcp.parse_client_message(payload)
    assert message is not None
    assert (message.mac, message.vendor_class, message.parameters, message.hostname) == (
        mac,
        vendor,
        parameters,
        hostname,
    )


def test_what_is_not_a_client_request() -> None:
    offer = bytearray(ANDROID)
    offer[0] = 2  # BOOTREPLY: the server's options, not the client's
    assert dhcp.parse_client_message(bytes(offer)) is None
    assert dhcp.parse_client_message(ANDROID[:239]) is None
    truncated = ANDROID[:-21] + b"\x3c\x40abc"  # vendor class overrunning the message
    assert dhcp.parse_client_message(truncated) is None
    table = dhcp.DhcpFingerprints()
    assert table.add(request(PHONE, kind=7, vendor=b"android-dhcp-14")) is None  # a RELEASE says nothing new
    assert table.add(request(PHONE, vendor=b"x", htype=6)) is None  # not Ethernet: no MAC to key it by
    assert table.station_fields() == {}


def test_vendor_class_is_printable_and_bounded() -> None:
    message = dhcp.parse_client_message(request(PHONE, vendor=b"\x01ab\x00c" + b"x" * 100))
    assert message is not None and message.vendor_class == "abc" + "x" * 61


def test_hostname_keeps_discovery_behaviour() -> None:
    assert discovery.dhcp_hostname(ANDROID) == "pixel-8"
    assert discovery.lan_name(68, 67, WINDOWS) == ("desktop-7qk2m1", "dhcp", True)


def test_table_keeps_the_latest_per_station_bounded() -> None:
    table = dhcp.DhcpFingerprints(max_stations=2)
    for payload in (ANDROID, WINDOWS, UDHCPC):
        assert table.add(payload) is not None
    fields = table.station_fields()
    assert set(fields) == {"00:1a:2b:3c:4d:5e", "a4:cf:12:00:00:01"}  # the oldest went first
    assert fields["a4:cf:12:00:00:01"] == {"dhcp_vc": "udhcp 1.36.1", "dhcp_prl": "1,3,6,12,15,28,42"}
    table.add(request(bytes.fromhex("001a2b3c4d5e"), 3, b"MSFT 5.0", bytes([1, 3, 6])))  # a renewal
    assert table.station_fields()["00:1a:2b:3c:4d:5e"] == {"dhcp_vc": "MSFT 5.0", "dhcp_prl": "1,3,6"}


def test_monitor_learns_from_the_requests_the_filter_passes() -> None:
    frames = [
        w.udp4("0.0.0.0", 68, "255.255.255.255", 67, ANDROID, smac=PHONE, dmac=b"\xff" * 6),
        w.udp4("192.168.1.1", 67, "255.255.255.255", 68, ANDROID, smac=w.GATEWAY_MAC),
    ]  # wrong way
    monitor = DpiMonitor(Classifier(), source=FakeSource(frames), volumes="capture", clock=lambda: 1010.0)
    assert monitor.poll() == 2
    assert monitor.station_fields() == {
        "3a:1b:2c:3d:4e:5f": {
            "dhcp_vc": "android-dhcp-14",
            "dhcp_prl": "1,3,6,15,26,28,51,58,59,43,114",
            "hostname": "pixel-8",
        }
    }
    assert bpf.run(bpf.program(), frames[0]) == len(frames[0])


def test_the_sampler_writes_them_on_the_station_rows() -> None:
    class Monitor:
        def report(self) -> list[dict[str, Any]]:
            return []

        def station_fields(self) -> dict[str, dict[str, str]]:
            return {
                "3a:1b:2c:3d:4e:5f": {
                    "dhcp_vc": "android-dhcp-14",
                    "dhcp_prl": "1,3,6",
                    "hostname": "pixel-8",
                },
                "00:1a:2b:3c:4d:5e": {"dhcp_vc": "MSFT 5.0", "hostname": "desktop-7qk2m1"},
            }

        def unclassified_report(self) -> None:
            return None  # the agent did not opt in (dpi_unclassified_domains = 0)

    rows: list[dict[str, Any]] = [
        {"mac": "3A:1B:2C:3D:4E:5F"},
        {"mac": "00:1a:2b:3c:4d:5e", "hostname": "office"},
        {"mac": "02:00:00:00:00:09"},
    ]

    class Context:
        shared: dict[str, Any] = {"stations": rows}

    sampler = AppsSampler()
    sampler._monitor = Monitor()
    assert sampler.sample(Context()) == {"apps": []}  # type: ignore[arg-type]
    assert rows == [
        {
            "mac": "3A:1B:2C:3D:4E:5F",
            "dhcp_vc": "android-dhcp-14",
            "dhcp_prl": "1,3,6",
            "hostname": "pixel-8",
        },
        {"mac": "00:1a:2b:3c:4d:5e", "hostname": "office", "dhcp_vc": "MSFT 5.0"},  # the lease's name stays
        {"mac": "02:00:00:00:00:09"},
    ]


@pytest.mark.parametrize(
    ("capture", "mac", "fields"),
    [
        (
            "dpi/pcap/android.pcap",
            "4c:6a:f6:9f:f6:27",
            {"dhcp_vc": "android-dhcp-9", "dhcp_prl": "1,3,6,15,26,28,51,58,59,43"},
        ),
        (
            "dpi/pcap/iphone.pcap",
            "c4:61:8b:35:82:a9",
            {"dhcp_prl": "1,121,3,6,15,119,252", "hostname": "lucas-iphone"},
        ),
        (
            "dpi-more/pcap/telegram.pcap",
            "00:80:8f:9a:ae:bd",
            {
                "dhcp_vc": "dhcpcd-6.10.1:Linux-4.9.57-v7+:armv7l:BCM2835",
                "dhcp_prl": "1,121,33,3,6,12,15,26,28,42,51,54,58,59,119",
                "hostname": "pi3.ntop.org",
            },
        ),
    ],
)
def test_real_requests_of_the_shared_captures(capture: str, mac: str, fields: dict[str, str]) -> None:
    path = ref.shared_dpi_dir().parent / capture
    if not path.exists():
        pytest.fail(f"shared capture {path} missing: set HOMESCOPE_SHARED to the shared/ folder")
    table = dhcp.DhcpFingerprints()
    for frame in read_frames(str(path)):
        packet = decode(frame.linktype, frame.data, frame.ts)
        if packet is not None and packet.sport == 68 and packet.dport == 67:
            table.add(packet.payload)
    assert table.station_fields()[mac] == fields
