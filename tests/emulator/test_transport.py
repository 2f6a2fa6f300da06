"""One thread drives every gateway's MQTT client: connect, publish, reconnect after the broker dies."""

from __future__ import annotations

import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from emulator.transport import PolledTransport, TransportLoop
from tests.broker import Broker


def wait(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_many_clients_on_one_loop_publish_and_come_back_after_a_broker_restart(
    private_broker: Broker,
) -> None:
    private_broker.start()
    got: list[str] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher", protocol=mqtt.MQTTv5)
    watcher.on_message = lambda c, u, m: got.append(m.topic)
    watcher.connect("127.0.0.1", private_broker.port)
    watcher.subscribe("t/#", qos=1)
    watcher.loop_start()
    loop = TransportLoop()
    connects = {f"gw-{i}": 0 for i in range(20)}
    transports = []
    for gid in connects:
        t = PolledTransport(loop, private_broker.url, gid, username=gid, will=(f"t/{gid}/will", b"gone"))

        def on_connect(gid: str = gid, t: PolledTransport = t) -> None:
            connects[gid] += 1
            t.publish(f"t/{gid}/hello", b"hi", qos=1)

        t.start(lambda topic, payload: None, on_connect, lambda reason: None)
        transports.append(t)
    loop.start()
    try:
        assert wait(lambda: all(t.connected for t in transports))
        assert wait(lambda: len({g for g in got if g.endswith("/hello")}) == 20)
        private_broker.kill()
        assert wait(lambda: not any(t.connected for t in transports))
        private_broker.start()
        assert wait(lambda: all(t.connected for t in transports), timeout=30)
        assert all(n == 2 for n in connects.values())
    finally:
        loop.call_wait(lambda: [t.stop() for t in transports])
        loop.stop()
        watcher.loop_stop()
        watcher.disconnect()
