"""Emulated gateways -> real Mosquitto -> collector -> REST API, bounded in time."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.service import Service
from collector.settings import Settings
from emulator.fleet import Fleet
from protocol.codec import encode
from protocol.topics import topic_for
from tests.broker import Broker
from tests.protocol.messages import report

TOKEN = "e2e-token-long-enough-for-tests"


@pytest.fixture
async def service(broker: Broker, tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(
        db=f"sqlite:///{tmp_path}/e2e.db",
        mqtt=broker.url,
        http="127.0.0.1:0",
        users="op:pw-long-enough-4-tests",
        api_tokens=TOKEN,
        mqtt_client_id=f"collector-{tmp_path.name}",
    )
    svc = Service(settings)
    await svc.start()
    yield svc
    await svc.stop()


async def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


def publish_raw(broker: Broker, items: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-raw", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in items]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.timeout(120)
async def test_twenty_gateways_are_stored_exactly_once_and_shown_by_the_api(
    broker: Broker, service: Service
) -> None:
    fleet = Fleet(20, broker.url, interval_s=1.0, prefix="e2e")
    fleet.start()
    assert await asyncio.to_thread(fleet.wait_connected, 15)
    published: set[tuple[str, int, int]] = set()
    for window in range(3):
        spooled = await asyncio.to_thread(fleet.report_all, 1_700_000_000 + 900 * (window + 1), 900)
        published |= fleet.keys(spooled)
        if window == 1:
            # hostile and broken payloads beside good traffic
            await asyncio.to_thread(
                publish_raw,
                broker,
                [
                    (topic_for("e2e-00003", "report"), b"hs\x00\x81\xa1"),
                    (topic_for("e2e-00004", "report"), encode(report("e2e-00005"))),
                    (topic_for("e2e-00006", "report"), encode({**report("e2e-00006"), "seq": "x"})),
                ],
            )
    left = await asyncio.to_thread(fleet.drain, 30.0)
    fleet.stop()
    assert left == 0, "every record must be acknowledged by the collector"
    await wait_for(lambda: _quarantined(service, 3))

    stored = set(await service.store.stored_keys("report"))
    assert len(published) == 60
    assert {k for k in stored if re.fullmatch(r"e2e-\d{5}", k[0])} == published
    assert service.ingest.stats.by_reason == {"truncated": 1, "identity_mismatch": 1, "invalid": 1}

    port = service.port
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.get(f"http://127.0.0.1:{port}/api/v1/gateways") as response:
            data = await response.json()
        # other tests' gateways reach this collector through retained status messages on the shared broker
        gws = [g for g in data["gateways"] if re.fullmatch(r"e2e-\d{5}", g["gateway_id"])]
        assert len(gws) == 20
        for g in gws:
            assert g["reports"] == 3 and g["cpu_pct"] is not None and g["wan_rx_bps"] is not None
        # personas follow a daily rhythm: at this hour some homes are idle, most are not
        assert sum(g["wan_rx_bps"] > 0 for g in gws) >= 10
        async with http.get(f"http://127.0.0.1:{port}/api/v1/gateways/e2e-00007") as response:
            one = await response.json()
        assert one["rates"]["wan"]["rx_bps"] >= 0 and len(one["history"]) == 3
        async with http.get(f"http://127.0.0.1:{port}/api/v1/quarantine") as response:
            reasons = sorted(q["reason"] for q in (await response.json())["quarantine"])
        assert reasons == ["identity_mismatch", "invalid", "truncated"]


async def _quarantined(service: Service, n: int) -> bool:
    return (await service.store.counts())["quarantined"] >= n
