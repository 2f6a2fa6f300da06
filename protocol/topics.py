"""Topic layout ``homescope/v1/{gateway_id}/{kind}``: build and parse, no I/O."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from protocol.errors import ProtocolError, Reason

ROOT = "homescope"
TOPIC_VERSION = "v1"


class Kind(StrEnum):
    """Message kinds; the last topic segment and the envelope's ``kind``."""

    REPORT = "report"  # gateway -> collector: 15-minute telemetry (spooled)
    EVENT = "event"  # gateway -> collector: station join/leave, flows, gaps (spooled)
    STATUS = "status"  # gateway -> collector: online/offline, retained, also the MQTT last will
    ACK = "ack"  # collector -> gateway: sequence numbers durably committed
    CMD = "cmd"  # collector -> gateway: commands (``protocol/commands.py``)
    REPLY = "reply"  # gateway -> collector: a command's answer (not spooled)


#: Kinds a gateway publishes; the broker ACL lets it write only these under its own id.
UPLINK_KINDS = (Kind.REPORT, Kind.EVENT, Kind.STATUS, Kind.REPLY)
#: Kinds that carry a spool position and must be acknowledged.
SPOOLED_KINDS = (Kind.REPORT, Kind.EVENT)

GATEWAY_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_GATEWAY_ID = re.compile(GATEWAY_ID_PATTERN)
_TOPIC = re.compile(rf"{ROOT}/{TOPIC_VERSION}/({GATEWAY_ID_PATTERN})/([a-z]+)")


class Topic(NamedTuple):
    gateway_id: str
    kind: Kind


def is_valid_gateway_id(gateway_id: str) -> bool:
    """True when the id is usable as one topic segment and an MQTT username."""
    return _GATEWAY_ID.fullmatch(gateway_id) is not None


def topic_for(gateway_id: str, kind: Kind | str) -> str:
    """The topic on which ``gateway_id`` sends or receives ``kind``."""
    if not is_valid_gateway_id(gateway_id):
        raise ProtocolError(Reason.BAD_TOPIC, f"gateway id {gateway_id[:70]!r} is not {GATEWAY_ID_PATTERN}")
    return f"{ROOT}/{TOPIC_VERSION}/{gateway_id}/{Kind(kind).value}"


def subscription(kind: Kind | str, share_group: str | None = None) -> str:
    """The wildcard subscription for one kind of every gateway, optionally shared."""
    base = f"{ROOT}/{TOPIC_VERSION}/+/{Kind(kind).value}"
    return f"$share/{share_group}/{base}" if share_group else base


def parse_topic(topic: str) -> Topic:
    """Split a topic into gateway id and kind, refusing anything off the layout."""
    match = _TOPIC.fullmatch(topic)
    if match is None:
        raise ProtocolError(
            Reason.BAD_TOPIC, f"topic {topic[:120]!r} is not {ROOT}/{TOPIC_VERSION}/<id>/<kind>"
        )
    try:
        kind = Kind(match.group(2))
    except ValueError:
        raise ProtocolError(Reason.BAD_TOPIC, f"unknown kind {match.group(2)!r}") from None
    return Topic(match.group(1), kind)
