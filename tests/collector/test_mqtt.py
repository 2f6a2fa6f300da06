"""The collector's own MQTT 5 session: packet parsing, and against a real Mosquitto."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.ingest.mqtt import MqttError, MqttSession, SessionOptions, publish_packet, varint
from tests.broker import Broker

Received = tuple[str, bytes, int, int, bool, int]


def publish_qos1(topic: str, payload: bytes, mid: int, *, retain: bool = False, props: bytes = b"") -> bytes:
    body = len(topic).to_bytes(2, "big") + topic.encode() + mid.to_bytes(2, "big")
    body += varint(len(props)) + props + payload
    return bytes((0x32 | int(retain),)) + varint(len(body)) + body


def session(received: list[Received], port: int = 1, client_id: str = "t") -> MqttSession:
    options = SessionOptions("127.0.0.1", port, client_id, ("homescope/v1/+/report",), min_retry_s=0.1)
    return MqttSession(options, lambda *args: received.append(args))


@pytest.mark.parametrize("step", [1, 7, 1000, 70_000])
def test_packets_split_anywhere_across_reads_are_parsed_whole(step: int) -> None:
    received: list[Received] = []
    s = session(received)
    big = bytes(range(256)) * 1200  # 300 KB: a remaining length of three bytes
    stream = (
        publish_qos1("homescope/v1/gw-1/report", b"first", 1)
        + b"\xd0\x00"  # PINGRESP between two messages
        + publish_qos1("homescope/v1/gw-2/report", big, 65535, retain=True, props=b"\x01\x01")  # a property
        + publish_packet("homescope/v1/gw-3/status", b"qos0")
    )
    for i in range(0, len(stream), step):
        s.data_received(stream[i : i + step])
    assert received == [
        ("homescope/v1/gw-1/report", b"first", 1, 1, False, 0),
        ("homescope/v1/gw-2/report", big, 65535, 1, True, 0),
        ("homescope/v1/gw-3/status", b"qos0", 0, 0, False, 0),
    ]
    assert s._have == 0  # nothing left over


@pytest.mark.parametrize(
    ("stream", "error"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "malformed remaining length"),
        (b"\x34\x05\x00\x01t\x00\x01", "QoS 2"),  # we subscribe at QoS 1: a QoS 2 delivery is a broker bug
        (b"\x50\x02\x00\x01", "unexpected packet type 5"),  # PUBREC: we never publish QoS 2
    ],
)
def test_what_breaks_the_protocol_is_refused_by_name(stream: bytes, error: str) -> None:
    with pytest.raises(MqttError, match=error):
        session([])._parse(stream)


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for info in [client.publish(t, p, qos=1) for t, p in messages]:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


async def test_a_puback_is_sent_only_on_the_connection_that_delivered_the_message(
    private_broker: Broker,
) -> None:
    private_broker.start()
    received: list[Received] = []
    first = session(received, private_broker.port, "collector-acks")
    first.start()
    await wait_for(lambda: first.connected)
    topic = "homescope/v1/gw-a/report"
    await asyncio.to_thread(publish, private_broker.port, [(topic, b"one"), (topic, b"two")])
    await wait_for(lambda: len(received) == 2)
    assert [r[1] for r in received] == [b"one", b"two"] and {r[5] for r in received} == {1}
    first.ack(received[0][2], 1, received[0][5])  # "one" is stored: acked on its connection
    await asyncio.sleep(0.2)
    assert first._transport is not None
    first._transport.abort()  # the connection drops before "two" was stored

    # reconnected: the broker resends only "two"; an ack naming the old connection is not sent
    await wait_for(lambda: len(received) == 3)
    assert received[2][1] == b"two" and received[2][5] == first.connection == 2
    first.ack(received[1][2], 1, received[1][5])  # stale: that id may name another message now
    assert not first._out
    first.ack(received[2][2], 1, received[2][5])
    assert first._out
    await asyncio.sleep(0.2)
    await first.stop()

    third: list[Received] = []
    last = session(third, private_broker.port, "collector-acks")
    last.start()
    await wait_for(lambda: last.connected)
    await asyncio.sleep(0.5)
    await last.stop()
    assert third == []  # both stored, both acknowledged, nothing left at the broker


async def test_the_session_comes_back_after_the_broker_restarts(private_broker: Broker) -> None:
    private_broker.start()
    received: list[Received] = []
    s = session(received, private_broker.port, "collector-restart")
    s.start()
    await wait_for(lambda: s.connected)
    private_broker.kill()
    await wait_for(lambda: not s.connected)
    private_broker.start()
    await wait_for(lambda: s.connected)
    await asyncio.to_thread(publish, private_broker.port, [("homescope/v1/gw-r/report", b"after")])
    await wait_for(lambda: len(received) == 1)
    assert received[0][1] == b"after" and received[0][5] == s.connection >= 2
    await s.stop()


async def test_refused_credentials_are_logged_once_and_retried(
    mosquitto_binary: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(
        mosquitto_binary,
        tmp_path / "mosquitto",
        extra_config="listener {port} 127.0.0.1\nallow_anonymous false",
    )
    broker.start()
    try:
        s = session([], broker.port, "collector-anon")
        with caplog.at_level(logging.ERROR, logger="collector.ingest.mqtt"):
            s.start()
            await asyncio.sleep(1.0)
            await s.stop()
        refusals = [r for r in caplog.records if "connection refused" in r.getMessage()]
        assert not s.connected and len(refusals) == 1 and s.connection >= 2  # retried, logged once
        assert "0x87" in refusals[0].getMessage() or "0x86" in refusals[0].getMessage()
    finally:
        broker.stop()
