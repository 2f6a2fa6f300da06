"""The installer's tables behave the same on every store (SQL written once, ``store.db``)."""

from __future__ import annotations

import time

from collector.installer.records import InstallerRecords, InstallRecord, new_id
from collector.store import Batch, StatusChange, Store
from collector.store.base import insights
from tests.collector.store.test_conformance import spooled


async def test_a_command_is_answered_once_by_its_own_gateway(store: Store) -> None:
    records = InstallerRecords(store.db)
    now = time.time()
    sent = await records.issue("gw-s1", "measure_now", "fitter", now, 60)
    assert (await records.command(sent.command_id, now)).state == "sent"  # type: ignore[union-attr]
    assert not await records.answer("gw-other", sent.command_id, now + 1, {"x": 1}, "")
    assert await records.answer("gw-s1", sent.command_id, now + 2, {"stations": [{"signal_dbm": -61}]}, "")
    assert not await records.answer("gw-s1", sent.command_id, now + 3, {"x": 2}, "")  # a resent reply
    done = await records.command(sent.command_id, now + 4)
    assert done is not None and done.state == "done" and done.answered_at == now + 2
    assert done.result == {"stations": [{"signal_dbm": -61}]}
    assert (await records.latest_measurement("gw-s1")).command_id == sent.command_id  # type: ignore[union-attr]


async def test_an_unanswered_command_expires_and_a_failure_keeps_its_reason(store: Store) -> None:
    records = InstallerRecords(store.db)
    now = time.time()
    late = await records.issue("gw-s1", "measure_now", "fitter", now, 10)
    assert (await records.command(late.command_id, now + 11)).state == "expired"  # type: ignore[union-attr]
    assert not await records.answer("gw-s1", late.command_id, now + 12, {}, "")
    failed = await records.issue("gw-s1", "measure_now", "fitter", now, 10)
    assert await records.answer("gw-s1", failed.command_id, now + 1, None, "busy: a measurement is running")
    found = await records.command(failed.command_id, now + 2)
    assert found is not None and found.state == "failed" and found.error.startswith("busy")  # type: ignore[union-attr]
    assert await records.latest_measurement("gw-s1") is None


async def test_installs_keep_their_baseline_newest_first(store: Store) -> None:
    records = InstallerRecords(store.db)
    for n, score in enumerate((82.0, 64.5)):
        await records.record_install(
            InstallRecord(
                new_id(),
                "gw-s1",
                "fitter",
                1000.0 + n,
                n == 0,
                f"hall {n}",
                "",
                None,
                score,
                {"wifi_score": score, "terminals": [{"name": "tv"}]},
            )
        )
    found = await records.installs("gw-s1")
    assert [i.wifi_score for i in found] == [64.5, 82.0]
    assert (
        found[1].mesh_added and not found[0].mesh_added and found[1].baseline["terminals"][0]["name"] == "tv"
    )


async def test_search_finds_crm_fields_literally_and_gateways_outside_the_crm(store: Store) -> None:
    await store.write_batch(
        Batch([spooled("gw-s1"), spooled("gw-lone")], [], [StatusChange("gw-s1", "online", time.time())])
    )
    await insights(store).upsert_subscribers(
        [
            {
                "gateway_id": "gw-s1",
                "subscriber_id": "ACME_100%",
                "plan_down_mbps": 100.0,
                "area": "North Bay",
            },
            {"gateway_id": "gw-s2", "subscriber_id": "ACME-2000", "plan_down_mbps": 100.0, "area": "South"},
        ]
    )
    records = InstallerRecords(store.db)
    assert {h["gateway_id"] for h in await records.search("acme")} == {"gw-s1", "gw-s2"}
    assert [h["gateway_id"] for h in await records.search("_100%")] == ["gw-s1"]  # wildcards are literal
    assert [h["gateway_id"] for h in await records.search("E_2")] == []  # "_" would match ACME-2000
    hit = (await records.search("north"))[0]
    assert hit["status"] == "online" and hit["subscriber_id"] == "ACME_100%"
    assert [h["gateway_id"] for h in await records.search("gw-lo")] == ["gw-lone"]
    assert await records.search("   ") == []
