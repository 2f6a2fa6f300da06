from __future__ import annotations

import pytest

from protocol.errors import ProtocolError
from protocol.topics import Kind, parse_topic, subscription, topic_for


def test_build_and_parse() -> None:
    topic = topic_for("gw-0011aabbccdd", Kind.REPORT)
    assert topic == "homescope/v1/gw-0011aabbccdd/report"
    assert parse_topic(topic) == ("gw-0011aabbccdd", Kind.REPORT)


@pytest.mark.parametrize(
    "topic",
    [
        "homescope/v1/gw/unknown",
        "homescope/v2/gw/report",
        "homescope/v1/+/report",
        "homescope/v1/a/b/report",
        "homescope/v1//report",
        "homescope/v1/" + "x" * 65 + "/report",
        "other/v1/gw/report",
    ],
)
def test_parse_refuses_off_layout_topics(topic: str) -> None:
    with pytest.raises(ProtocolError):
        parse_topic(topic)


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "-lead", "x" * 65, "sp ace"])
def test_gateway_ids_that_cannot_be_one_segment_are_refused(bad: str) -> None:
    with pytest.raises(ProtocolError):
        topic_for(bad, Kind.REPORT)


def test_subscriptions() -> None:
    assert subscription(Kind.REPORT) == "homescope/v1/+/report"
    assert subscription("event", "collectors") == "$share/collectors/homescope/v1/+/event"
