"""Triage: what one received message becomes, and what may be acknowledged for it.

Pure functions of the topic and payload (no I/O), so every hostile case is a unit
test. A payload that breaks the contract becomes a :class:`QuarantinedMessage` with an
enumerated reason; a valid report or event a :class:`SpooledMessage` keyed by
``(gateway_id, epoch, seq)``. The gateway id always comes from the topic, which the
broker's ACL ties to the sender: a payload naming another is ``identity_mismatch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from collector.store import QuarantinedMessage, SpooledMessage, StatusChange
from protocol.codec import MAX_FRAME, canonical, check_envelope, decode_body, keys_unique, unframe
from protocol.errors import ProtocolError, Reason
from protocol.models import check, check_body, closed_message
from protocol.topics import SPOOLED_KINDS, Topic, parse_topic

Key = tuple[str, int, int]  # (gateway_id, epoch, seq): the idempotency key

#: Of a payload larger than any valid frame, only this head is kept (for the quarantine).
OVERSIZE_HEAD = 64 * 1024


class IngestReason(StrEnum):
    """Quarantine reasons the collector adds to :class:`protocol.errors.Reason`."""

    STORE_REJECTED = "store_rejected"  # the store refused the record for good
    INTERNAL = "internal_error"  # triage itself failed on it (a bug; the payload is kept)
    QUOTA = "quota_exceeded"  # the gateway sent more than its ingest quota (collector/ingest/quota.py)


# Incoming and Triage are made once per message on the event loop: plain slotted dataclasses
# (a frozen one's __init__ sets each field through object.__setattr__, ~5x slower). Read-only.
@dataclass(slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float
    #: The size on the wire when ``payload`` holds only the head of a too-large payload.
    size: int = -1
    #: Delivered from the broker's retained store (an old message, not a fresh one).
    retained: bool = False
    #: The MQTT connection that delivered it (its PUBACK goes on that connection only).
    connection: int = 0


@dataclass(slots=True)
class Triage:
    """What one message becomes, and what may be acknowledged once it is committed."""

    out: SpooledMessage | QuarantinedMessage | StatusChange | None
    ack: Key | None = None
    sent_at: int | None = None


def ack_ranges(seqs: list[int]) -> list[list[int]]:
    """Compress sequence numbers into inclusive ``[low, high]`` ranges."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _int(value: object, below: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < below:
        return None
    return value


def _own_key(where: Topic, raw: dict[str, Any]) -> Key | None:
    # open_envelope has checked that the payload names the topic's gateway and kind, and the
    # broker's ACL ties the topic to the sender: acknowledging this key can only tell the
    # sender itself to stop resending its own record.
    epoch, seq = _int(raw.get("epoch"), 2**32), _int(raw.get("seq"), 2**64)
    if where.kind not in SPOOLED_KINDS or epoch is None or seq is None:
        return None
    return (where.gateway_id, epoch, seq)


def triage(item: Incoming) -> Triage:
    """Decode and validate one message into what the store keeps and what may be acked."""
    where: Topic | None = None

    def refuse(reason: str, detail: str, ack: Key | None = None) -> Triage:
        gid = where.gateway_id if where else None
        return Triage(
            QuarantinedMessage(item.received_at, item.topic, gid, reason, detail, item.payload), ack
        )

    kind: str | None = None
    try:
        where = parse_topic(item.topic)
        if item.size > MAX_FRAME:
            raise ProtocolError(Reason.OVERSIZE, f"payload of {item.size} bytes exceeds {MAX_FRAME}")
        body = unframe(item.payload)
        # The fast way, what every agent of this version sends: no map repeats a key (one
        # pass of C over the bytes) and the body decodes into the closed schema (valid, only
        # known fields, so string keys and bounded depth too): nothing else is built.
        if keys_unique(body):
            found = closed_message(body)
            if found is not None:
                kind = str(type(found).__struct_config__.tag)
                check_envelope({"v": found.v, "kind": kind, "gateway_id": found.gateway_id}, where)
                return _accepted(item, body, kind, lambda name: getattr(found, name, None), None, found.sent_at)
        # Without the C check: canonical msgpack (re-encoding proves no repeated key) that
        # decodes into the closed schema. Anything else takes the full way, which names the reason.
        raw = canonical(body)
        if raw is not None:
            kind = check_body(body)
        if kind is None:
            raw = decode_body(body)
        assert raw is not None
        check_envelope(raw, where)
    except ProtocolError as exc:
        return refuse(exc.reason.value, exc.detail)
    except Exception as exc:  # a decoder bug must cost one message, not the collector
        return refuse(IngestReason.INTERNAL.value, f"{type(exc).__name__}: {exc}"[:500])
    sent_at = _int(raw.get("sent_at"), 2**40)
    if kind is None:
        try:
            kind = check(raw)
        except ProtocolError as exc:
            return refuse(exc.reason.value, exc.detail, _own_key(where, raw))
        except Exception as exc:
            return refuse(
                IngestReason.INTERNAL.value, f"{type(exc).__name__}: {exc}"[:500], _own_key(where, raw)
            )
    # validated: the raw dict is what the models describe (and keeps fields a newer minor adds)
    return _accepted(item, body, kind, raw.get, raw["body"] if kind in SPOOLED_KINDS else None, sent_at)


def _accepted(
    item: Incoming,
    packed: bytes,
    kind: str,
    field: Callable[[str], Any],
    decoded: dict[str, Any] | None,
    sent_at: int | None,
) -> Triage:
    """What a validated message becomes; ``field`` reads its envelope (a decoded dict's, or
    the closed schema's Struct's), ``decoded`` is its body when triage built one."""
    if kind in SPOOLED_KINDS:
        key = (field("gateway_id"), field("epoch"), field("seq"))
        spooled = SpooledMessage(
            gateway_id=key[0],
            epoch=key[1],
            seq=key[2],
            kind=kind,
            window_start=field("window_start"),
            window_end=field("window_end"),
            uptime_s=field("uptime_s"),
            sent_at=field("sent_at"),
            received_at=item.received_at,
            decoded=decoded,  # None: decoded from packed only if someone reads it
            payload=item.payload,
            packed=packed,
        )
        return Triage(spooled, key, sent_at)
    if kind == "status":
        change = StatusChange(field("gateway_id"), field("state"), item.received_at, field("agent_version"))
        return Triage(change, None, sent_at)
    return Triage(None)  # ack/cmd are ours; the subscription does not carry them


def classify(item: Incoming) -> SpooledMessage | QuarantinedMessage | StatusChange | None:
    """What the store keeps of one message (see :func:`triage` for the acknowledgement)."""
    return triage(item).out
