"""Long outages: a gateway cut off for a week, a collector away past the broker's queue limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from protocol.codec import decode
from protocol.topics import topic_for
from tests.broker import Broker, free_port
from tests.faults.harness import (
    CollectorProc,
    FleetProc,
    Partition,
    audit,
    read_spool,
    read_store,
    spool_truth,
    stored_count,
    wait_until,
)

WEEK = 7 * 24 * 4  # 672 reports of 15 minutes
QUOTA = 2 * 1024 * 1024


class Observer:
    """Records the seq of every report on one gateway's topic, in arrival order."""

    def __init__(self, port: int, gateway_id: str) -> None:
        self.seqs: list[int] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"observer-{gateway_id}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic_for(gateway_id, "report"), qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.seqs.append(int(decode(message.payload)["seq"]))

    def first_arrivals(self) -> list[int]:
        seen: set[int] = set()
        out = []
        with self._lock:
            for seq in self.seqs:
                if seq not in seen:
                    seen.add(seq)
                    out.append(seq)
        return out

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.root
@pytest.mark.timeout(150)
def test_gateway_offline_for_seven_days_keeps_every_report_and_drains_in_order(
    mosquitto_binary: str, tmp_path: Path, figures: Callable[..., None]
) -> None:
    part = Partition(41)
    part.up()  # skips without root
    broker: Broker | None = None
    collector: CollectorProc | None = None
    fleet: FleetProc | None = None
    observer: Observer | None = None
    try:
        gw_port = free_port()
        broker = Broker(
            mosquitto_binary,
            tmp_path / "mosquitto",
            extra_config=f"listener {{port}} 127.0.0.1\nlistener {gw_port} {part.host_ip}\nallow_anonymous true",
        )
        broker.start()
        collector = CollectorProc(tmp_path, broker.url)
        collector.start()
        observer = Observer(broker.port, "wk-000")
        part.cut()  # the gateway's uplink is dead before it first connects
        fleet = FleetProc(
            tmp_path,
            f"mqtt://{part.host_ip}:{gw_port}",
            prefix="wk",
            gateways=1,
            reports=WEEK,
            period=0.005,  # 15 simulated minutes every 5 ms
            stations=32,  # ~2.2 KB per framed report, as a busy home sends
            quota=QUOTA,
            resend_after=10,
        )
        fleet.start(wrap=part.wrap())
        spool_path = fleet.spool_dir / "wk-000.db"
        spooled_in = wait_until(
            lambda: spool_path.exists() and read_spool(spool_path).next_seq > WEEK, 60, "a week spooled"
        )
        time.sleep(1.0)
        held = read_spool(spool_path)
        assert held.pending == WEEK and held.dropped == 0 and held.bytes <= QUOTA
        assert stored_count(collector.db, "wk-") == 0, "the partition leaked"

        part.heal()
        healed = time.monotonic()
        wait_until(lambda: fleet.status().get("connected"), 60, "gateway reconnected")
        reconnect_s = time.monotonic() - healed
        wait_until(lambda: stored_count(collector.db, "wk-") >= WEEK, 60, "backlog drained")
        drain_s = time.monotonic() - healed
        assert fleet.wait(30) == 0
        result = audit(spool_truth(fleet.spool_dir), read_store(collector.db))
        order = observer.first_arrivals()
        figures(
            reports=WEEK,
            spooled_in_s=round(spooled_in, 1),
            outbox_bytes=held.bytes,
            quota_bytes=QUOTA,
            reconnect_after_heal_s=round(reconnect_s, 1),
            drained_after_heal_s=round(drain_s, 1),
            resent=len(observer.seqs) - len(order),
            **result.figures(),
        )
        assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
        assert result.stored == WEEK
        assert drain_s <= 60
        assert order == sorted(order), "the backlog was not sent oldest first"
    finally:
        if fleet is not None:
            fleet.stop()
        if observer is not None:
            observer.stop()
        if collector is not None:
            collector.stop()
        if broker is not None:
            broker.stop()
        part.down()


@pytest.mark.timeout(120)
def test_collector_offline_past_the_broker_queue_limit_loses_nothing(
    mosquitto_binary: str, tmp_path: Path, fast_spool: Path, figures: Callable[..., None]
) -> None:
    """Mosquitto drops past max_queued_messages for an offline subscriber; the agents resend."""
    limit = 100
    broker = Broker(
        mosquitto_binary,
        tmp_path / "mosquitto",
        extra_config=f"listener {{port}} 127.0.0.1\nallow_anonymous true\nmax_queued_messages {limit}",
    )
    broker.start()
    collector = CollectorProc(tmp_path, broker.url)
    fleet = FleetProc(
        tmp_path,
        broker.url,
        prefix="qd",
        spool_root=fast_spool,
        gateways=10,
        reports=60,
        period=0.02,
        resend_after=2,
    )
    try:
        collector.start()  # creates the persistent session and its subscriptions
        collector.stop()
        fleet.start()
        wait_until(lambda: fleet.status().get("spooled") == 600, 30, "600 reports spooled")
        time.sleep(1.0)
        wait_until(lambda: "are being dropped" in broker.log_path.read_text(), 10, "broker dropping")
        assert stored_count(collector.db, "qd-") == 0
        collector.start()
        restarted = time.monotonic()
        assert fleet.wait(60) == 0
        recovered_s = time.monotonic() - restarted
        result = audit(spool_truth(fleet.spool_dir), read_store(collector.db))
        figures(
            queue_limit=limit,
            spooled_while_collector_away=600,
            received_by_collector=collector.total("received"),
            recovered_after_restart_s=round(recovered_s, 1),
            **result.figures(),
        )
        assert result.spooled == 600 and result.stored == 600
        assert result.lost == 0 and result.unexpected == 0 and result.double_counted == 0
    finally:
        fleet.stop()
        collector.stop()
        broker.stop()
