"""STUN/TURN messages (RFC 5389/8489, RFC 8656): what a call's set-up says about the service behind it.

A STUN message names the protocol, not the application. Three things in it name the application:
- the REALM attribute (0x0014) of a TURN server's challenge and the client's authenticated requests is the
  relay operator's own name (``signal.org``, ``viber.com``, ``turn.l.google.com``): it is used as the flow's
  hostname and looked up in the domain table like any other;
- Microsoft's STUN/TURN extensions ([MS-TURN], [MS-ICE2], Microsoft's open specifications) add attributes in
  0x8008-0x8070 (MS-VERSION, MS-SEQUENCE-NUMBER, CANDIDATE-IDENTIFIER, MS-SERVICE-QUALITY,
  MS-IMPLEMENTATION-VERSION...) that only Teams/Skype clients and relays send;
- WhatsApp's call relays speak a STUN variant with attribute types 0x4000-0x4007 (comprehension-optional
  range, RFC 8489 section 18.3); Zoom's with 0x0101/0x0103. Both are observations published by nDPI
  (``src/lib/protocols/stun.c``, LGPL-3.0: the attribute numbers are taken as facts, no code).
"""

from __future__ import annotations

from dataclasses import dataclass

STUN_COOKIE = b"\x21\x12\xa4\x42"
REALM = 0x0014
MS_ATTRIBUTES = frozenset({0x8008, 0x8050, 0x8054, 0x8055, 0x8056, 0x8057, 0x8070})
WHATSAPP_ATTRIBUTES = frozenset(range(0x4000, 0x4008))
ZOOM_ATTRIBUTES = frozenset({0x0101, 0x0103})
_MAX_ATTRIBUTES = 32


@dataclass(frozen=True, slots=True)
class StunInfo:
    """What one STUN message says: the realm (a name to classify) and an application its attributes imply."""

    realm: str | None
    app: str | None


def is_stun(payload: bytes) -> bool:
    """A STUN message: two zero top bits, a length that fits, and the magic cookie."""
    if len(payload) < 20 or payload[0] & 0xC0 or payload[4:8] != STUN_COOKIE:
        return False
    length = int.from_bytes(payload[2:4], "big")
    return length % 4 == 0 and 20 + length <= len(payload)


def inspect(payload: bytes) -> StunInfo | None:
    """Parse a STUN message's attributes; None if ``payload`` is not STUN."""
    if not is_stun(payload):
        return None
    end = 20 + int.from_bytes(payload[2:4], "big")
    offset = 20
    realm: str | None = None
    app: str | None = None
    for _ in range(_MAX_ATTRIBUTES):
        if offset + 4 > end:
            break
        kind = int.from_bytes(payload[offset : offset + 2], "big")
        size = int.from_bytes(payload[offset + 2 : offset + 4], "big")
        value = payload[offset + 4 : offset + 4 + size]
        if kind == REALM and realm is None:
            realm = _realm(value)
        elif app is None and kind in MS_ATTRIBUTES:
            app = "teams"
        elif app is None and kind in WHATSAPP_ATTRIBUTES:
            app = "whatsapp"
        elif app is None and kind in ZOOM_ATTRIBUTES:
            app = "zoom"
        offset += 4 + size + (-size % 4)  # attributes are padded to 32 bits
    return StunInfo(realm, app)


def _realm(value: bytes) -> str | None:
    """A realm that reads as a hostname (some relays send opaque or quoted junk: ignored)."""
    text = value.decode("ascii", "replace").strip().strip('"').lower()
    if not text or len(text) > 253 or any(not (c.isalnum() or c in ".-_") for c in text):
        return None
    return text
