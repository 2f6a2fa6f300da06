from __future__ import annotations

import time

import pytest

from collector.ingest import Incoming, ack_ranges, classify
from collector.store import QuarantinedMessage, SpooledMessage, StatusChange
from protocol.codec import encode
from protocol.topics import topic_for
from tests.protocol.messages import report, status


def incoming(topic: str, payload: bytes) -> Incoming:
    return Incoming(topic, payload, 1, 1, time.time())


def test_ack_ranges_compress_sequences() -> None:
    assert ack_ranges([5, 1, 2, 3, 9, 10, 3]) == [[1, 3], [5, 5], [9, 10]]
    assert ack_ranges([]) == []


def test_valid_report_and_status_are_classified() -> None:
    out = classify(incoming(topic_for("gw-i", "report"), encode(report("gw-i", seq=4))))
    assert isinstance(out, SpooledMessage) and (out.gateway_id, out.seq, out.kind) == ("gw-i", 4, "report")
    st = classify(incoming(topic_for("gw-i", "status"), encode(status("gw-i", "offline"))))
    assert isinstance(st, StatusChange) and st.state == "offline"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("homescope/v1/gw-i/report", encode(report("gw-other")), "identity_mismatch"),
        ("homescope/v1/gw-i/report", b"hs\x00\x81", "truncated"),
        ("homescope/v1/gw-i/report", encode({**report("gw-i"), "seq": -3}), "invalid"),
        ("homescope/v1/gw-i/report", encode({**report("gw-i"), "v": "9.0"}), "unknown_major"),
        ("homescope/v1/gw-i/event", encode(report("gw-i")), "kind_mismatch"),
        ("homescope/v9/gw-i/report", encode(report("gw-i")), "bad_topic"),
    ],
)
def test_bad_messages_are_quarantined_with_their_reason(topic: str, payload: bytes, reason: str) -> None:
    out = classify(incoming(topic, payload))
    assert isinstance(out, QuarantinedMessage)
    assert out.reason == reason and out.payload == payload and out.detail
