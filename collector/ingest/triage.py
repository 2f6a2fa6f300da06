"""Triage: what one received message becomes, and what may be acknowledged for it.

Pure functions of the topic and payload (no I/O), so every hostile case is a unit
test. A payload that breaks the contract becomes a :class:`QuarantinedMessage` with an
enumerated reason; a valid report or event a :class:`SpooledMessage` keyed by
``(gateway_id, epoch, seq)``. The gateway id always comes from the topic, which the
broker's ACL ties to the sender: a payload naming another is ``identity_mismatch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from collector.store import QuarantinedMessage, SpooledMessage, StatusChange
from protocol import inbound
from protocol.inbound import Accepted, Refused, accept

#: ``(gateway_id, epoch, seq)``: the idempotency key (what ingest acknowledges).
Key = inbound.Key

#: Of a payload larger than any valid frame, only this head is kept (for the quarantine).
OVERSIZE_HEAD = 64 * 1024


class IngestReason(StrEnum):
    """Quarantine reasons the collector adds to :class:`protocol.errors.Reason`."""

    STORE_REJECTED = "store_rejected"  # the store refused the record for good
    QUOTA = "quota_exceeded"  # the gateway sent more than its ingest quota (collector/ingest/quota.py)
    UNRESOLVED_VIEW = (
        "unresolved_view"  # a compact report's static view is unknown (collector/ingest/views.py)
    )


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


def triage(item: Incoming) -> Triage:
    """What one message becomes (:func:`protocol.inbound.accept` judges it) and what may be acked."""
    got = accept(item.payload, item.topic, item.size)
    if type(got) is Refused:
        quarantined = QuarantinedMessage(
            item.received_at, item.topic, got.gateway_id, got.reason, got.detail, item.payload
        )
        return Triage(quarantined, got.own_key)
    assert type(got) is Accepted
    if got.spooled:
        spooled = SpooledMessage(
            gateway_id=got.gateway_id,
            epoch=got.epoch,
            seq=got.seq,
            kind=got.kind,
            window_start=got.window_start,
            window_end=got.window_end,
            uptime_s=got.uptime_s,
            sent_at=got.sent_at,
            received_at=item.received_at,
            decoded=got.body,  # None: decoded from packed only if someone reads it
            frame=item.payload,  # as received: the scrubber frames what it rewrites
            packed=got.packed,
        )
        return Triage(spooled, (got.gateway_id, got.epoch, got.seq), got.sent_at)
    if got.kind == "status":
        return Triage(
            StatusChange(got.gateway_id, got.state, item.received_at, got.agent_version), None, got.sent_at
        )
    return Triage(None)  # ack/cmd are ours; the subscription does not carry them


def classify(item: Incoming) -> SpooledMessage | QuarantinedMessage | StatusChange | None:
    """What the store keeps of one message (see :func:`triage` for the acknowledgement)."""
    return triage(item).out
