"""First-payload signatures for traffic that carries no hostname.

Each rule is a published protocol constant, not a pattern learned from captures:
- RakNet (the game networking library behind Minecraft Bedrock, Roblox and others) marks its connection
  set-up messages with a fixed 16-byte "offline message" magic.
- STUN (RFC 5389/8489) carries the magic cookie 0x2112A442 in bytes 4-8 of every message; it names the
  protocol (``stun``), not the application, which comes from the DNS cache or the socket it shares.
- WhatsApp's chat connection opens with its Noise-pipes prologue: "WA" and a two-byte version, optionally
  preceded by the "ED" routing header.
"""

from __future__ import annotations

RAKNET_MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")
STUN_COOKIE = b"\x21\x12\xa4\x42"


def is_stun(payload: bytes) -> bool:
    """A STUN message: two zero top bits, a length that fits, and the magic cookie."""
    if len(payload) < 20 or payload[0] & 0xC0 or payload[4:8] != STUN_COOKIE:
        return False
    length = int.from_bytes(payload[2:4], "big")
    return length % 4 == 0 and 20 + length <= len(payload)


def is_raknet(payload: bytes) -> bool:
    """A RakNet offline message (ping, pong, open-connection request or reply)."""
    # Relays (Roblox's among them) prepend their own header, so the magic is looked for a little further in.
    return len(payload) >= 17 and RAKNET_MAGIC in payload[:64]


def is_whatsapp_chat(payload: bytes) -> bool:
    """The first client segment of a WhatsApp chat connection."""
    if payload[:2] == b"ED" and len(payload) >= 6 and payload[2:4] == b"\x00\x01":
        # Edge routing header: "ED", version 0x0001, 3-byte length, routing data, then the prologue.
        size = int.from_bytes(payload[4:7], "big") if len(payload) >= 7 else 0
        payload = payload[7 + size :]
    return len(payload) >= 4 and payload[:2] == b"WA" and payload[2] < 16 and payload[3] < 16


def udp_signature(payload: bytes) -> tuple[str, str | None] | None:
    """(protocol, app or None) recognised in a UDP payload."""
    if is_stun(payload):
        return ("stun", None)
    if is_raknet(payload):
        return ("raknet", "raknet")
    return None


def tcp_signature(payload: bytes) -> tuple[str, str | None] | None:
    """(protocol, app or None) recognised in the first client segment of a TCP flow."""
    if is_whatsapp_chat(payload):
        return ("whatsapp", "whatsapp")
    return None
