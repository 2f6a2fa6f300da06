"""Every message replayed three times, in a shuffled order: stored once, aggregates unchanged."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.store import open_store
from protocol.codec import encode, envelope
from protocol.topics import Kind, topic_for
from tests.broker import Broker
from tests.faults.fleetproc import report_for
from tests.faults.harness import CollectorProc, read_store, stored_count, wait_until

EPOCH = 4242
REPORTS = 30


def publish_all(port: int, items: list[tuple[str, bytes]], client_id: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in items]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def messages(prefix: str, gateways: int) -> list[tuple[str, bytes]]:
    """Per gateway: REPORTS reports and one event batch, each with its own (epoch, seq)."""
    out = []
    for g in range(gateways):
        gid = f"{prefix}-{g:03d}"
        for seq in range(1, REPORTS + 1):
            out.append((topic_for(gid, Kind.REPORT), report_for(gid, 900, 1_700_000_100, 4, EPOCH, seq)))
        ev = envelope(
            Kind.EVENT,
            gid,
            epoch=EPOCH,
            seq=REPORTS + 1,
            window_start=1_700_000_100,
            window_end=1_700_000_100 + 900 * REPORTS,
            uptime_s=3600,
            sent_at=1_700_100_000,
            body={"events": [{"type": "station_join", "ts": 1_700_000_200, "mac": "a4:83:e7:00:00:01"}]},
        )
        out.append((topic_for(gid, Kind.EVENT), encode(ev)))
    return out


def snapshot(db: Path, prefix: str) -> dict[str, Any]:
    """Every aggregate the store keeps per gateway: counters, latest state, rates, chart facts,
    and the additive hourly and daily rollups (facts are idempotent by their key anyway; the
    rollups are sums, so they are what a double count would change)."""

    async def go() -> dict[str, Any]:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            out: dict[str, Any] = {}
            for g in await store.list_gateways(limit=100_000):
                gid = g["gateway_id"]
                if gid.startswith(prefix):
                    out[gid] = {
                        "gateway": await store.gateway(gid),
                        "history": await store.history(gid, 10_000),
                        "hourly": await store.rollups(gid, "hour", 0),
                        "daily": await store.rollups(gid, "day", 0),
                    }
            return out
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.mark.timeout(120)
def test_every_message_three_times_reordered_is_stored_once_and_counted_once(
    fault_broker: Broker, collector_proc: CollectorProc, figures: Callable[..., None]
) -> None:
    collector_proc.start()
    rng = random.Random(3)

    # 1. "in order, then replayed": the aggregates after the replays must equal those before.
    ordered = messages("ro", 10)
    publish_all(fault_broker.port, ordered, "replay-a")
    wait_until(lambda: stored_count(collector_proc.db, "ro-") == len(ordered), 30, "originals stored")
    before = snapshot(collector_proc.db, "ro-")
    replays = ordered * 3
    rng.shuffle(replays)
    received = collector_proc.total("received")
    publish_all(fault_broker.port, replays, "replay-b")
    wait_until(
        lambda: (
            collector_proc.total("received") >= received + len(replays)
            and (collector_proc.health() or {}).get("queued") == 0
        ),
        30,
        "replays handled",
    )
    after = snapshot(collector_proc.db, "ro-")

    # 2. "shuffled from the first copy": three copies of each, in a random order, from the start.
    shuffled_src = messages("rs", 10)
    shuffled = shuffled_src * 3
    rng.shuffle(shuffled)
    publish_all(fault_broker.port, shuffled, "replay-c")
    wait_until(lambda: stored_count(collector_proc.db, "rs-") == len(shuffled_src), 30, "shuffled stored")
    wait_until(lambda: (collector_proc.health() or {}).get("queued") == 0, 30, "queue drained")
    view = read_store(collector_proc.db)
    health = collector_proc.health() or {}
    shuffled_view = snapshot(collector_proc.db, "rs-")
    figures(
        published=len(ordered) + len(replays) + len(shuffled),
        distinct=len(ordered) + len(shuffled_src),
        stored=sum(1 for k in view.keys if k[0][:3] in ("ro-", "rs-")),
        duplicates_acked=health.get("duplicates"),
        quarantined=health.get("quarantined"),
    )
    assert after == before, "a replayed message changed an aggregate"
    # each report is one window in its hour and its day, however often it came and in what order
    for snap in (before, shuffled_view):
        assert len(snap) == 10
        for gid, aggregates in snap.items():
            for period in ("hourly", "daily"):
                windows = sum(int(r["windows"]) for r in aggregates[period])
                assert windows == REPORTS, f"{gid}: {windows} {period} windows for {REPORTS} reports"
    expected_keys = {
        (f"{p}-{g:03d}", EPOCH, s) for p in ("ro", "rs") for g in range(10) for s in range(1, REPORTS + 2)
    }
    assert {k for k in view.keys if k[0][:3] in ("ro-", "rs-")} == expected_keys
    for p in ("ro", "rs"):
        for g in range(10):
            row = view.gateways[f"{p}-{g:03d}"]
            assert (row["reports"], row["events"]) == (REPORTS, 1)
            assert row["last_window_end"] == 1_700_000_100 + 900 * REPORTS
    assert health.get("duplicates") == len(replays) + len(shuffled) - len(shuffled_src)
    assert health.get("quarantined") == 0
