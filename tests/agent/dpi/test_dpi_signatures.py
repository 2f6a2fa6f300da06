"""Payload signatures, STUN attributes and the table's port/address rules, on constructed packets.

Every packet here is built from the protocol's published layout (see agent/dpi/signatures.py for sources),
not copied from a capture.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest

from agent.dpi import signatures as sig
from agent.dpi import stun
from agent.dpi.classifier import Classifier
from agent.dpi.flows import Flow
from agent.dpi.http import parse_request
from agent.dpi.inspector import Inspector
from agent.dpi.packet import decode
from tests.agent.dpi import dpi_wire as w


def stun_message(kind: int, attributes: list[tuple[int, bytes]]) -> bytes:
    body = b""
    for attr, value in attributes:
        body += struct.pack("!HH", attr, len(value)) + value + b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(body)) + stun.STUN_COOKIE + bytes(12) + body


def discord_discovery(kind: int) -> bytes:
    return struct.pack("!HHI", kind, 70, 0x1234) + b"203.0.113.7".ljust(64, b"\0") + struct.pack("!H", 50004)


@pytest.mark.parametrize(
    ("payload", "protocol", "app"),
    [
        (bytes.fromhex("01") + bytes(8) + sig.RAKNET_MAGIC + bytes(8), "raknet", "raknet"),
        (discord_discovery(1), "discord", "discord"),
        (discord_discovery(2), "discord", "discord"),
        (b"\x13\x37\xca\xfe\x0e\x00\x00\x00", "discord", "discord"),
        (b"\x00NETCODE 1.02\x00" + bytes(1064), "netcode", "netcode"),
        (b"\xff\xff\xff\xffTSource Engine Query\x00", "source_engine", "steam"),
        (b"\x01\x00\x00\x00" + bytes(144), "wireguard", "vpn"),
        (b"\xff\xff\x00\x01" + bytes(8) + b"\x02\xff\x01\x04" + bytes(12), "photon", "photon"),
        (
            bytes([60, 0, 0, 0x08, 0xED]) + bytes(11) + b"\x01\0\0\0\x07\0\0\0\x03\x07" + bytes(44),
            "crynetwork",
            "crytek",
        ),
        (b"app.start,env=production," + b"x" * 100, "gaijin", "gaijin"),
        (b"\x02\x3b\x0b\x00\x01\x00\x17" + bytes(36) + b"\x03", "oicq", "qq"),
        (b"\x00\x00\x00\x01\x00\x00\x00\x00ping", "codm", "activision"),
        (stun_message(0x0001, []), "stun", None),
        (stun_message(0x0113, [(0x0014, b"signal.org")]), "stun", None),
        (bytes([0x80, 0x6F]) + bytes(10) + b"media", "rtp", None),
        (bytes([0x81, 0xC8]) + bytes(26), "rtp", None),  # RTCP sender report
    ],
)
def test_udp_signatures(payload: bytes, protocol: str, app: str | None) -> None:
    found = sig.udp_signature(payload)
    assert found is not None and (found.protocol, found.app) == (protocol, app)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00" * 40,
        b"GET / HTTP/1.1\r\n\r\n",
        bytes(range(74)),
        b"\x13\x37\xca\xfe" + bytes(12),
        b"\x02" + bytes(20),  # STX without ETX
        b"\x01\x00\x00\x00" + bytes(100),  # WireGuard type but not 148 bytes
        bytes([0x40, 0x00]) + bytes(20),  # RTP version 1
    ],
)
def test_udp_signatures_reject_other_payloads(payload: bytes) -> None:
    assert sig.udp_signature(payload) is None


@pytest.mark.parametrize(
    ("payload", "protocol", "app"),
    [
        (b"WA\x06\x03" + bytes(20), "whatsapp", "whatsapp"),
        (b"ED\x00\x01", "whatsapp", "whatsapp"),
        (b"ED\x00\x01\x00\x00\x04\x08\x09\x08\x02WA\x05\x02", "whatsapp", "whatsapp"),
        (b"\xce\xfa\xbe\xba\x00\x00\x00\x80", "alicloud", "aliyun"),
        (b"\xce\xfa\xbe\xba\x00\x00\x00\x04abcd", "alicloud", "aliyun"),
        (b"\x33\x66\x00\x0b\x00\x0b" + bytes(60), "tencent_games", "tencent_games"),
        (struct.pack("!H", 20) + stun_message(0x0003, []), "stun", None),  # RFC 4571 framing
    ],
)
def test_tcp_signatures(payload: bytes, protocol: str, app: str | None) -> None:
    found = sig.tcp_signature(payload)
    assert found is not None and (found.protocol, found.app) == (protocol, app)


def test_wild_rift_needs_the_servers_answer() -> None:
    hello = sig.udp_signature(b"\x04\x00\x00\x00" + bytes(65))
    assert hello is not None and (hello.protocol, hello.app) == ("wild_rift_hello", None)
    answer = b"\x10\x00\x00\x00" + bytes(355)
    assert sig.udp_signature(answer) is None
    confirmed = sig.udp_signature(answer, hello.protocol)
    assert confirmed is not None and confirmed.app == "riot_games"


@pytest.mark.parametrize(
    ("attributes", "realm", "app"),
    [
        ([(0x0014, b"signal.org")], "signal.org", None),
        ([(0x0014, b'"turn.l.google.com"')], "turn.l.google.com", None),
        ([(0x0014, b"?\x01junk")], None, None),
        ([(0x8055, bytes(4)), (0x0014, b"relay.example")], "relay.example", "teams"),
        ([(0x4002, bytes(3))], None, "whatsapp"),
        ([(0x0103, bytes(8))], None, "zoom"),
    ],
)
def test_stun_attributes(attributes: list[tuple[int, bytes]], realm: str | None, app: str | None) -> None:
    info = stun.inspect(stun_message(0x0113, attributes))
    assert info == stun.StunInfo(realm, app)


def test_stun_realm_classifies_through_the_table() -> None:
    classifier = Classifier()
    for realm, app in (
        ("signal.org", "signal"),
        ("viber.com", "viber"),
        ("turn.l.google.com", "google_call"),
        ("turner.facebook", "messenger"),
    ):
        verdict = classifier.by_host(realm)
        assert verdict is not None and verdict.app == app, realm


def test_http_user_agent_names_system_agents() -> None:
    request = parse_request(
        b"GET /f HTTP/1.1\r\nUser-Agent: Microsoft-Delivery-Optimization/10.0\r\nHost: 198.51.100.4\r\n\r\n"
    )
    assert request is not None and request.host == "198.51.100.4"
    assert sig.http_agent_app(request.user_agent) == "windows_update"
    assert sig.http_agent_app("Mozilla/5.0") is None
    assert Classifier().app_category("windows_update") == "background"


TABLE = """
chat\tmessaging\tchat.example
social\tsocial\tsocial.example
game\tgame\t-
@net\tchat\ttcp:5222,5223\t198.51.100.0/24
@net\tsocial\ttcp\t198.51.100.0/24
@port\tgame\tudp\t27015
"""


def test_address_rules_with_ports_come_first() -> None:
    classifier = Classifier(TABLE)
    address = bytes([198, 51, 100, 9])
    chat = classifier.by_address(address, "tcp", 5222)
    assert chat is not None and chat.app == "chat"
    other = classifier.by_address(address, "tcp", 443)
    assert other is not None and other.app == "social"
    assert classifier.by_address(address, "udp", 5222) is None


def test_cdn_patterns_say_so() -> None:
    classifier = Classifier()
    verdict = classifier.by_host("v16m-tiktokcdn-com.akamaized.net")
    assert verdict is not None and (verdict.app, verdict.pattern) == ("tiktok", True)
    plain = classifier.by_host("www.tiktok.com")
    assert plain is not None and not plain.pattern
    assert classifier.by_host("images.shop-example.akamaized.net") is None


@pytest.mark.parametrize(
    ("l4", "port", "app"),
    [
        ("tcp", 1119, "blizzard"),
        ("udp", 3724, "blizzard"),
        ("tcp", 24105, "zenimax"),
        ("udp", 22023, "among_us"),
        ("tcp", 4244, "viber"),
        ("udp", 7985, "viber"),
        ("udp", 19305, "google_call"),
        ("udp", 64738, "mumble"),
        ("udp", 9987, "teamspeak"),
        ("udp", 21027, "syncthing"),
        ("tcp", 4070, "spotify"),
        ("tcp", 1443, "sonos"),
        ("udp", 27015, "steam"),
        ("udp", 3074, "xbox"),
        ("udp", 51820, "vpn"),
    ],
)
def test_documented_ports(l4: str, port: int, app: str) -> None:
    verdict = Classifier().by_port(l4, port)
    assert verdict is not None and verdict.app == app


@pytest.mark.parametrize(
    ("address", "l4", "port", "app"),
    [
        ("91.108.8.1", "udp", 533, "telegram"),  # Telegram's cidr.txt
        ("2001:b28:f23d::1", "tcp", 443, "telegram"),
        ("162.249.72.1", "udp", 7194, "riot_games"),
        ("185.88.236.110", "tcp", 5222, "threema"),
        ("147.92.169.90", "udp", 29070, "line"),
        ("66.22.241.8", "udp", 50004, "discord"),
        ("24.105.57.16", "udp", 3724, "blizzard"),
        ("142.250.82.76", "udp", 3478, "google_call"),  # Meet media relays
        ("52.115.136.55", "udp", 3479, "teams"),
        ("157.240.20.53", "tcp", 5222, "whatsapp"),  # Meta's blocks, WhatsApp's chat port
        ("157.240.20.53", "tcp", 443, "facebook"),
        ("157.240.20.53", "udp", 3478, "whatsapp"),
    ],
)
def test_published_address_blocks(address: str, l4: str, port: int, app: str) -> None:
    verdict = Classifier().by_address(ipaddress.ip_address(address).packed, l4, port)
    assert verdict is not None and verdict.app == app


def test_address_blocks_respect_transport() -> None:
    classifier = Classifier()
    assert (
        classifier.by_address(ipaddress.ip_address("66.22.241.8").packed, "tcp", 443) is None
    )  # Discord: UDP
    assert (
        classifier.by_address(ipaddress.ip_address("147.92.169.90").packed, "tcp", 443) is None
    )  # LINE: UDP


def _udp_flows(frames: list[bytes]) -> list[Flow]:
    closed: list[Flow] = []
    inspector = Inspector(Classifier(), on_flow_end=lambda f, _r: closed.append(f))
    for frame in frames:
        packet = decode(1, frame, 0.0)
        assert packet is not None
        inspector.feed(packet)
    inspector.finish()
    return closed


def test_epic_games_hello_needs_the_answer() -> None:
    hello = bytes.fromhex("1a2b3c40") + bytes(6) + bytes(24) + b"rest of the hello"
    answer = bytes.fromhex("1a2b3c48") + b"server answer"
    st, server = "192.168.1.20", "198.51.100.30"  # port 7777: no port rule names it
    confirmed = _udp_flows(
        [
            w.udp4(st, 50000, server, 7777, hello),
            w.udp4(server, 7777, st, 50000, answer, smac=w.GATEWAY_MAC, dmac=w.CLIENT_MAC),
        ]
    )
    assert [(f.app, f.app_source, f.l7) for f in confirmed] == [("epic_games", "payload", "epic_games")]
    wrong = bytes.fromhex("1a2b3c40") + b"not the echo"  # bit 3 not set: not the answer
    unconfirmed = _udp_flows(
        [
            w.udp4(st, 50001, server, 7777, hello),
            w.udp4(server, 7777, st, 50001, wrong, smac=w.GATEWAY_MAC, dmac=w.CLIENT_MAC),
        ]
    )
    assert unconfirmed[0].app is None
