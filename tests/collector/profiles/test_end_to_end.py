"""Persona fleet -> real Mosquitto -> collector (ingest folds rollups) -> evaluate -> API, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from collector.crm import parse_subscribers
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.service import Service
from collector.settings import Settings
from collector.store.base import drain_folds, insights
from emulator.clock import SimClock
from emulator.fleet import Fleet
from emulator.truth import CRM_COLUMNS, crm_rows, fleet_specs
from tests.broker import Broker

TOKEN = "profiles-e2e-token-for-tests"
MIX = {"heavy_gamer": 5, "big_poor_wifi": 5, "video_family": 5, "reader": 5, "inactive": 5, "ordinary": 5}
#: Monday 2025-06-02 00:00 UTC to Wednesday 00:00: two whole simulated days
CLOCK = SimClock.for_days(2, end=20243 * 86400)


@pytest.fixture
async def service(broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    config = tmp_path / "profiles.toml"
    config.write_text("[schedule]\nevaluate_every_s = 0\n")  # the test evaluates when the data is in
    monkeypatch.setenv("HOMESCOPE_PROFILES_CONFIG", str(config))
    svc = Service(
        Settings(
            db=f"sqlite:///{tmp_path}/e2e.db",
            mqtt=broker.url,
            http="127.0.0.1:0",
            users="op:pw-long-enough-4-tests",
            api_tokens=TOKEN,
            mqtt_client_id=f"collector-{tmp_path.name}",
            batch_max=500,
        )
    )
    await svc.start()
    yield svc
    await svc.stop()


@pytest.mark.timeout(120)
async def test_thirty_persona_homes_over_two_simulated_days(broker: Broker, service: Service) -> None:
    specs = fleet_specs(MIX, 30, prefix="e2e-prof", seed=3)
    fleet = Fleet(len(specs), broker.url, specs=specs, span=CLOCK.span, resend_after_s=60.0)
    fleet.start()
    try:
        assert await asyncio.to_thread(fleet.wait_connected, 20)
        reports = await asyncio.to_thread(fleet.backfill, CLOCK.first_end, CLOCK.windows)
        left = await asyncio.to_thread(fleet.drain, 60.0)
    finally:
        await asyncio.to_thread(fleet.stop)
    assert left == 0 and reports > 0.95 * 30 * CLOCK.windows  # a few gateways are off for an hour or two

    store = insights(service.store)
    await drain_folds(store)
    days = await store.home_days(CLOCK.start // 86400)
    assert len(days) == 60 and sum(data["v"][0] for _, _, data in days) == reports  # each folded once
    rows = crm_rows(specs, CLOCK.end)
    text = ",".join(CRM_COLUMNS) + "\n" + "".join(",".join(r[c] for c in CRM_COLUMNS) + "\n" for r in rows)
    await store.upsert_subscribers(parse_subscribers(text).rows)
    report = await evaluate(store, load_config(), as_of=CLOCK.end)
    assert report.homes == 30

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        base = f"http://127.0.0.1:{service.port}/api/v1"
        found: dict[str, set[str]] = {}
        async with http.get(f"{base}/homes?limit=100") as response:
            for home in (await response.json())["homes"]:
                found[home["gateway_id"]] = set(home["label"]) | set(home["flag"]) | set(home["warning"])
        async with http.get(f"{base}/homes/{specs[0].gateway_id}?as_of={CLOCK.end}") as response:
            one = await response.json()
    assert len(found) == 30
    # two days are enough for these personas' truths, both ways (precision and recall)
    for spec in specs:
        assert found[spec.gateway_id] == set(spec.truth), (spec.gateway_id, spec.personas)
    assert one["profile"]["7d"]["activity"]["observed_days"] == 2.0
    assert {r["rule"] for r in one["labels"] + one["flags"] + one["warnings"]} == set(specs[0].truth)
