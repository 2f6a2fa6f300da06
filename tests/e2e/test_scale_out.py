"""Two collectors on a shared subscription, one PostgreSQL: every report stored once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from collector.service import Service
from collector.settings import Settings
from collector.store import open_store
from collector.store.base import insights
from emulator.fleet import Fleet
from tests.broker import Broker


@pytest.mark.timeout(120)
async def test_two_collectors_share_the_load_and_store_each_report_once(
    broker: Broker, postgres_url: str, tmp_path: Path
) -> None:
    collectors = [
        Service(
            Settings(
                db=postgres_url,
                mqtt=broker.url,
                http="127.0.0.1:0",
                users="op:pw-long-enough-4-tests",
                share_group=f"g{tmp_path.name[-8:]}",
                mqtt_client_id=f"c{i}-{tmp_path.name}",
                batch_max=20,
            )
        )
        for i in range(2)
    ]
    for svc in collectors:
        await svc.start()
    # exactly one of them leads the scheduled evaluation (the lease in the shared store)
    deadline = time.monotonic() + 10
    while not any(svc.leadership.held for svc in collectors) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert [svc.leadership.held for svc in collectors].count(True) == 1
    fleet = Fleet(20, broker.url, prefix="so")
    try:
        fleet.start()
        assert await asyncio.to_thread(fleet.wait_connected, 15)
        published = set()
        for window in range(10):
            spooled = await asyncio.to_thread(fleet.report_all, 1_700_000_000 + 900 * (window + 1), 900)
            published |= fleet.keys(spooled)
        started = time.monotonic()
        assert await asyncio.to_thread(fleet.drain, 60.0) == 0
        print(f"\n[scale-out] 200 reports drained through 2 collectors in {time.monotonic() - started:.2f} s")
        # both collectors' folding tasks work through the one fold queue
        deadline = time.monotonic() + 30
        while await insights(collectors[0].store).pending_folds() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        print(f"[scale-out] folded by each collector: {[svc.folded for svc in collectors]}")
        leaders = [svc.leadership.held for svc in collectors].count(True)
    finally:
        fleet.stop()
        for svc in collectors:
            await svc.stop()
    shares = [svc.ingest.stats.stored for svc in collectors]
    assert leaders == 1, f"{leaders} collectors led at once"
    assert all(share > 0 for share in shares), f"both collectors must take a share: {shares}"
    assert sum(shares) >= 200  # reports, plus any station events the emulated homes sent
    store = open_store(postgres_url)
    await store.open()
    try:
        keys = await store.stored_keys("report")
        assert len(keys) == len(set(keys)) == 200
        assert set(keys) == published
        ours = [g for g in await store.list_gateways() if g["gateway_id"].startswith("so-")]
        assert len(ours) == 20 and all(g["reports"] == 10 for g in ours)
        # ...and every report was folded into its home's day exactly once
        assert await insights(store).pending_folds() == 0
        windows: dict[str, int] = {}
        for gid, _, data in await insights(store).home_days(0):
            windows[gid] = windows.get(gid, 0) + data["v"][0]
        assert windows == {g["gateway_id"]: 10 for g in ours}
    finally:
        await store.close()
