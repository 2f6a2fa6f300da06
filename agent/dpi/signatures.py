"""First-payload signatures for traffic that carries no hostname (games, calls, messengers' own protocols).

Every rule is a fact about a protocol that holds wherever the service runs, never a pattern learned from
one capture; each names its public source. Sources:
- specifications: STUN (RFC 8489, see ``stun.py``), RTP/RTCP (RFC 3550), WireGuard (the protocol paper,
  "Noise IK handshake": message type 1, 148 bytes), netcode.io (its STANDARD.md: connection request packets
  start with a zero prefix byte and "NETCODE 1.02"), RakNet (its offline-message magic), Valve's Source
  engine server queries (Valve Developer Wiki "Server queries": four 0xFF bytes then the query type);
- the vendors' developer documentation: Discord's voice "IP Discovery" packet (type 0x1/0x2, length 70,
  74 bytes in all), Photon (Exit Games' binary protocol: peer id 0xFFFF before a connection, then a
  CONNECT command; Photon runs many mobile games, Toca Boca's among them);
- header constants of proprietary protocols as published in nDPI's dissectors (``ntop/nDPI``
  ``src/lib/protocols/*.c``, LGPL-3.0; the constants are facts about the protocols, re-stated here, no
  code taken): Epic Games' hello and answer (the answer echoes the hello's first word with bit 3 set),
  QQ's OICQ (STX 0x02 ... ETX 0x03), Alibaba Cloud's link protocol (0xCEFABEBA and a length),
  CryEngine's network layer, Tencent games' 0x3366 header, Gaijin's telemetry, Discord's voice keep-alive
  (0x1337CAFE), WhatsApp's chat prologue ("WA" and a version, optionally after the "ED" edge header).
A signature names the protocol (``Match.protocol``) and, when the protocol belongs to one service, the app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.dpi import stun

RAKNET_MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")
STUN_COOKIE = stun.STUN_COOKIE
is_stun = stun.is_stun


@dataclass(frozen=True, slots=True)
class Match:
    """A recognised protocol; ``app`` when it implies one service, ``host`` when it carried a name."""

    protocol: str
    app: str | None = None
    host: str | None = None


def is_raknet(payload: bytes) -> bool:
    """A RakNet offline message (ping, pong, open-connection request or reply)."""
    # Relays (Roblox's among them) prepend their own header, so the magic is looked for a little further in.
    return len(payload) >= 17 and RAKNET_MAGIC in payload[:64]


def is_whatsapp_chat(payload: bytes) -> bool:
    """The first client segment of a WhatsApp chat connection."""
    if payload == b"ED\x00\x01":
        return True  # the edge routing header's first four bytes, sent alone before its length and data
    if payload[:2] == b"ED" and len(payload) >= 6 and payload[2:4] == b"\x00\x01":
        # Edge routing header: "ED", version 0x0001, 3-byte length, routing data, then the prologue.
        size = int.from_bytes(payload[4:7], "big") if len(payload) >= 7 else 0
        payload = payload[7 + size :]
    return len(payload) >= 4 and payload[:2] == b"WA" and payload[2] < 16 and payload[3] < 16


def is_discord_ip_discovery(payload: bytes) -> bool:
    """Discord voice's IP Discovery request or reply: type 1/2, length 70, SSRC, address, port."""
    return len(payload) == 74 and payload[:2] in (b"\x00\x01", b"\x00\x02") and payload[2:4] == b"\x00\x46"


def is_rtp(payload: bytes) -> bool:
    """An RTP or RTCP packet (RFC 3550/5761): version 2, and a payload type in the dynamic/audio-video range
    or an RTCP packet type (200-206)."""
    if len(payload) < 12 or payload[0] >> 6 != 2:
        return False
    kind = payload[1] & 0x7F
    return kind < 35 or 96 <= kind <= 127 or 72 <= kind <= 78  # 72-78: RTCP 200-206 with the marker bit


def is_wireguard_initiation(payload: bytes) -> bool:
    """A WireGuard handshake initiation: type 1, three reserved zero bytes, 148 bytes."""
    return len(payload) == 148 and payload[:4] == b"\x01\x00\x00\x00"


def is_photon(payload: bytes) -> bool:
    """Photon (Exit Games) over UDP: a client's CONNECT before it has a peer id, or an ACK-led datagram."""
    if len(payload) >= 24 and payload[:4] == b"\xff\xff\x00\x01" and payload[12:16] == b"\x02\xff\x01\x04":
        return True
    return (
        len(payload) >= 32
        and payload[2:4] in (b"\x00\x01", b"\x00\x02", b"\x00\x03")
        and payload[12:16] in (b"\x01\xff\x00\x00", b"\x01\x00\x00\x00")
        and payload[16:20] == b"\x00\x00\x00\x14"
    )


def is_oicq(payload: bytes) -> bool:
    """QQ's OICQ datagram: STX, a client version, a command, a sequence number ... ETX."""
    return len(payload) >= 16 and payload[0] == 0x02 and payload[-1] == 0x03 and payload[3] == 0x00


def is_netcode(payload: bytes) -> bool:
    """A netcode.io connection request (the UDP netcode behind yojimbo and the games built on it)."""
    return len(payload) >= 14 and payload[0] == 0 and payload[1:14] == b"NETCODE 1.02\x00"


def is_source_query(payload: bytes) -> bool:
    """A Valve Source engine server query (A2S_INFO, A2S_PLAYER, A2S_RULES, challenge)."""
    return len(payload) >= 5 and payload[:4] == b"\xff\xff\xff\xff" and payload[4:5] in b"TUVWAIi"


def is_crynetwork(payload: bytes) -> bool:
    """CryEngine's game network layer: a length byte (payload - 10) and fixed header fields."""
    # (Bytes 3-4, fixed in nDPI's rule, vary between sessions: not checked.)
    return (
        len(payload) >= 26
        and len(payload) == payload[0] + 10
        and payload[16] == 0x01
        and payload[20] == 0x07
        and payload[24:26] == b"\x03\x07"
    )


def is_gaijin(payload: bytes) -> bool:
    """Gaijin Entertainment's game clients (War Thunder, Enlisted, Crossout): launcher telemetry over UDP."""
    if len(payload) == 52 and payload[:3] == b"\x8f\xff\x00" and payload[4:8] == b"\x82\xff\x00\x01":
        return True
    return len(payload) > 100 and payload.startswith((b"embeddedupdater.", b"app.start", b"app.stage"))


def is_discord_keepalive(payload: bytes) -> bool:
    """Discord voice's 8-byte UDP keep-alive."""
    return len(payload) == 8 and payload[:4] == b"\x13\x37\xca\xfe"


def is_alicloud(payload: bytes) -> bool:
    """Alibaba Cloud's link protocol: magic 0xCEFABEBA, then the PDU length (alone, or with the PDU)."""
    if len(payload) < 8 or payload[:4] != b"\xce\xfa\xbe\xba":
        return False
    size = int.from_bytes(payload[4:8], "big")
    return (len(payload) == 8 and size > 0) or size == len(payload) - 8


def is_codm_ping(payload: bytes) -> bool:
    """Call of Duty: Mobile's 12-byte UDP "ping" to its match servers."""
    return len(payload) == 12 and payload[8:12] == b"ping"


def is_wild_rift_hello(payload: bytes) -> bool:
    """League of Legends: Wild Rift's 69-byte connection hello (confirmed by the server's 359-byte answer)."""
    return len(payload) == 69 and payload[:4] == b"\x04\x00\x00\x00"


def is_wild_rift_answer(payload: bytes) -> bool:
    """The server's answer to :func:`is_wild_rift_hello`."""
    return len(payload) == 359 and payload[:4] == b"\x10\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class Hello:
    """The first datagram of a two-packet exchange, kept until the other side's answer confirms it."""

    protocol: str
    key: bytes
    up: bool


def udp_hello(payload: bytes, up: bool) -> Hello | None:
    """A flow's first datagram that only an answer can confirm: Epic Games' (Fortnite, Rocket League...)
    connection hello, a 32-bit word with bit 3 clear followed at bytes 10-34 by zeros."""
    if any(lead.matches(payload) for lead in EPIC_HELLO_LEADS) and not payload[3] & 0x08:
        return Hello("epic_games", payload[:4], up)
    return None


def confirm(hello: Hello, payload: bytes, up: bool) -> Match | None:
    """The protocol a pending hello and this answer (from the other side) make, or None."""
    if up != hello.up and len(payload) > 4 and payload[:4] == hello.key[:3] + bytes([hello.key[3] | 0x08]):
        return Match(hello.protocol, "epic_games")
    return None


def is_tencent_game(payload: bytes) -> bool:
    """Tencent's game gateway protocol (Honor of Kings, PUBG Mobile...): a 0x3366 header, version 0x0B."""
    return len(payload) > 50 and payload[:6] == b"\x33\x66\x00\x0b\x00\x0b"


@dataclass(frozen=True, slots=True)
class Lead:
    """What the kernel filter tests of a signature (``bpf.py`` generates its code from these): bytes at fixed
    payload offsets, under an optional mask (a negative offset counts from the payload's end), and the
    payload's size, exact or a minimum. A lead is a necessary condition of its rule, never the whole rule:
    the rule's test runs in Python only on a payload that matches one of its leads, so the kernel can never
    drop what a rule would have named."""

    fixed: tuple[tuple[int, bytes, bytes | None], ...]
    size: int | None = None
    min_size: int = 0

    def __post_init__(self) -> None:
        for offset, value, mask in self.fixed:
            if not value or (mask is not None and len(mask) != len(value)) or offset < -14:
                raise ValueError(f"bad lead check at {offset}: {value!r}/{mask!r}")
        if self.size is not None and self.size < self.reach:
            raise ValueError(f"lead of size {self.size} tests bytes up to {self.reach}")

    @property
    def reach(self) -> int:
        """The smallest payload that holds every tested byte (the size test comes first in the kernel)."""
        ends = [offset + len(value) if offset >= 0 else -offset for offset, value, _mask in self.fixed]
        return max([self.min_size, *ends])

    def matches(self, payload: bytes) -> bool:
        """Whether the payload passes this lead (as the kernel program tests it)."""
        size = len(payload)
        if (self.size is not None and size != self.size) or size < self.reach:
            return False
        for offset, value, mask in self.fixed:
            start = offset if offset >= 0 else size + offset
            got = payload[start : start + len(value)]
            if mask is not None:
                got = bytes(g & m for g, m in zip(got, mask, strict=True))
            if got != value:
                return False
        return True


def _at(offset: int, value: bytes, mask: bytes | None = None) -> tuple[int, bytes, bytes | None]:
    return offset, value, mask


@dataclass(frozen=True, slots=True)
class Rule:
    """A payload signature: its leads (what the kernel tests), its full test, the protocol and the app."""

    leads: tuple[Lead, ...]
    test: Callable[[bytes], bool]
    protocol: str
    app: str | None

    def applies(self, payload: bytes) -> bool:
        """The rule's verdict, only ever given on a payload one of its leads lets through."""
        return any(lead.matches(payload) for lead in self.leads) and self.test(payload)


_RAKNET_LEAD = RAKNET_MAGIC[:8]
STUN_LEADS = (Lead((_at(4, STUN_COOKIE),), min_size=20),)
STUN_TCP_LEADS = (*STUN_LEADS, Lead((_at(6, STUN_COOKIE),), min_size=22))  # bare, or after an RFC 4571 length
WILD_RIFT_HELLO = Rule(
    (Lead((_at(0, b"\x04\x00\x00\x00"),), size=69),), is_wild_rift_hello, "wild_rift_hello", None
)
WILD_RIFT_ANSWER = Rule(
    (Lead((_at(0, b"\x10\x00\x00\x00"),), size=359),), is_wild_rift_answer, "wild_rift", "riot_games"
)
EPIC_HELLO_LEADS = (Lead((_at(10, bytes(24)),)),)

# Tried in order on the first payloads of a flow that nothing else named.
UDP_RULES = (
    # Offline messages: the magic follows the message id (open-connection requests and replies), the ping's
    # 8-byte time, or the pong's time and server GUID.
    Rule(
        (Lead((_at(1, _RAKNET_LEAD),)), Lead((_at(9, _RAKNET_LEAD),)), Lead((_at(17, _RAKNET_LEAD),))),
        is_raknet,
        "raknet",
        "raknet",
    ),
    Rule(
        (Lead((_at(0, b"\x00\x01\x00\x46"),), size=74), Lead((_at(0, b"\x00\x02\x00\x46"),), size=74)),
        is_discord_ip_discovery,
        "discord",
        "discord",
    ),
    Rule((Lead((_at(0, b"\x13\x37\xca\xfe"),), size=8),), is_discord_keepalive, "discord", "discord"),
    Rule((Lead((_at(0, b"\x00NETCODE 1.02\x00"),)),), is_netcode, "netcode", "netcode"),
    Rule((Lead((_at(0, b"\xff\xff\xff\xff"),), min_size=5),), is_source_query, "source_engine", "steam"),
    Rule((Lead((_at(0, b"\x01\x00\x00\x00"),), size=148),), is_wireguard_initiation, "wireguard", "vpn"),
    Rule(
        (
            Lead((_at(0, b"\xff\xff\x00\x01"), _at(12, b"\x02\xff\x01\x04"))),
            Lead((_at(12, b"\x01\xff\x00\x00"), _at(16, b"\x00\x00\x00\x14")), min_size=32),
            Lead((_at(12, b"\x01\x00\x00\x00"), _at(16, b"\x00\x00\x00\x14")), min_size=32),
        ),
        is_photon,
        "photon",
        "photon",
    ),
    Rule(
        (Lead((_at(16, b"\x01"), _at(20, b"\x07"), _at(24, b"\x03\x07"))),),
        is_crynetwork,
        "crynetwork",
        "crytek",
    ),
    Rule(
        (
            Lead((_at(0, b"\x8f\xff\x00"), _at(4, b"\x82\xff\x00\x01")), size=52),
            Lead((_at(0, b"embeddedupdater."),), min_size=101),
            Lead((_at(0, b"app.sta"),), min_size=101),
        ),
        is_gaijin,
        "gaijin",
        "gaijin",
    ),
    Rule((Lead((_at(0, b"\x02"), _at(3, b"\x00"), _at(-1, b"\x03")), min_size=16),), is_oicq, "oicq", "qq"),
    Rule((Lead((_at(8, b"ping"),), size=12),), is_codm_ping, "codm", "activision"),
)
TCP_RULES = (
    Rule(
        (Lead((_at(0, b"ED\x00\x01"),)), Lead((_at(0, b"WA\x00\x00", b"\xff\xff\xf0\xf0"),))),
        is_whatsapp_chat,
        "whatsapp",
        "whatsapp",
    ),
    Rule((Lead((_at(0, b"\xce\xfa\xbe\xba"),), min_size=8),), is_alicloud, "alicloud", "aliyun"),
    Rule(
        (Lead((_at(0, b"\x33\x66\x00\x0b\x00\x0b"),), min_size=51),),
        is_tencent_game,
        "tencent_games",
        "tencent_games",
    ),
)


def udp_leads() -> tuple[Lead, ...]:
    """Every UDP lead the kernel filter must pass: the rules', STUN's, the two-packet exchanges' first halves."""
    leads = [*STUN_LEADS, *WILD_RIFT_HELLO.leads, *WILD_RIFT_ANSWER.leads, *EPIC_HELLO_LEADS]
    for rule in UDP_RULES:
        leads += rule.leads
    return tuple(leads)


def tcp_leads() -> tuple[Lead, ...]:
    """Every TCP lead the kernel filter must pass (first client segments; TURN answers over TCP)."""
    leads = list(STUN_TCP_LEADS)
    for rule in TCP_RULES:
        leads += rule.leads
    return tuple(leads)


# HTTP User-Agent prefixes of system agents that fetch from numeric hosts or shared CDNs (Microsoft documents
# both agents in "Delivery Optimization" and "Windows Update" troubleshooting pages).
HTTP_AGENTS = (
    ("microsoft-delivery-optimization/", "windows_update"),
    ("windows-update-agent", "windows_update"),
)


def http_agent_app(user_agent: str | None) -> str | None:
    """The app a system agent's User-Agent names, or None."""
    if not user_agent:
        return None
    lowered = user_agent.lower()
    for prefix, app in HTTP_AGENTS:
        if lowered.startswith(prefix):
            return app
    return None


def udp_signature(payload: bytes, seen: str | None = None) -> Match | None:
    """The protocol (and app, and name) a UDP payload shows, or None; ``seen`` is the protocol an earlier
    packet of the flow showed (two-packet exchanges are recognised on the answer)."""
    if seen == "wild_rift_hello" and WILD_RIFT_ANSWER.applies(payload):
        return Match("wild_rift", "riot_games")
    if WILD_RIFT_HELLO.applies(payload):
        return Match("wild_rift_hello")
    info = stun.inspect(payload) if any(lead.matches(payload) for lead in STUN_LEADS) else None
    if info is not None:
        return Match("stun", info.app, info.realm)
    for rule in UDP_RULES:
        if rule.applies(payload):
            return Match(rule.protocol, rule.app)
    if is_rtp(payload):
        return Match("rtp")
    return None


def tcp_signature(payload: bytes) -> Match | None:
    """The protocol (and app) the first client segment of a TCP flow shows, or None."""
    for rule in TCP_RULES:
        if rule.applies(payload):
            return Match(rule.protocol, rule.app)
    # STUN over TCP, bare or with RFC 4571 framing (a 2-byte length first).
    if not any(lead.matches(payload) for lead in STUN_TCP_LEADS):
        return None
    info = stun.inspect(payload) or stun.inspect(payload[2:])
    if info is not None:
        return Match("stun", info.app, info.realm)
    return None
