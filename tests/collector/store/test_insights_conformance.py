"""What every home-profile store must do (``InsightsStore``); run against each backend by the
``store`` fixture: folding exactly once (also with several stores on one database), the CRM,
results with history, the homes list and the area view, and evaluations end to end."""

from __future__ import annotations

import asyncio
import functools
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from agent.runner import report_frame
from collector.crm import parse_subscribers
from collector.ingest import Incoming, classify
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate, evaluate_changed
from collector.store import Batch, SpooledMessage, Store, folding, open_store
from collector.store.base import drain_folds, insights
from emulator.clock import SimClock
from emulator.home import VirtualHome
from emulator.truth import CRM_COLUMNS, crm_rows, fleet_specs
from protocol.topics import topic_for
from tests.collector.profiles.builders import MONDAY, as_of, week
from tests.collector.profiles.stores import execute, put_days
from tests.collector.profiles.test_evaluate import gamer
from tests.collector.store.test_folding import T0, reports

CONFIG = load_config()


async def folded_windows(store: Any) -> dict[str, int]:
    days = await insights(store).home_days(T0 // 86400)
    return {gid: data["v"][0] for gid, _, data in days}  # v[0]: windows folded


async def opened(url: str) -> Any:
    s = open_store(url)
    await s.open()
    return s


# -- folding -----------------------------------------------------------------------------
async def test_reports_are_folded_once_after_the_commit_and_duplicates_never(store: Store) -> None:
    s = insights(store)
    batch = reports("conf-a", 6)
    await store.write_batch(Batch(batch[:4], [], []))
    await store.write_batch(Batch(batch + batch[4:], [], []))  # four duplicates, two new (one twice)
    assert await s.pending_folds() == 6
    assert await folded_windows(store) == {}  # not yet: folding follows the ingest
    assert await drain_folds(s, chunk=4) == 6
    assert await s.pending_folds() == 0
    assert await folded_windows(store) == {"conf-a": 6}
    assert await s.fold_pending() == 0
    ((_, day, data),) = await s.home_days(T0 // 86400, detail=True)
    assert day == T0 // 86400 and data["first"] == T0 and data["last"] == T0 + 6 * 900
    assert set(data) >= {"v", "tm", "sx", "hb", "slots"}
    assert "sx" not in (await s.home_days(T0 // 86400))[0][2]  # detail only when asked


async def test_a_queue_left_by_a_closed_store_is_folded_from_the_raw_reports(store: Store) -> None:
    first = await opened(store.url)
    await first.write_batch(Batch(reports("conf-b", 5), [], []))
    assert await insights(first).fold_pending(limit=2) == 2
    await first.close()  # three committed reports never folded by that store
    second = await opened(store.url)
    try:
        await second.write_batch(Batch(reports("conf-b", 2, first_seq=6), [], []))  # new work meanwhile
        assert await drain_folds(insights(second), chunk=2) == 5
        assert await folded_windows(second) == {"conf-b": 7}
    finally:
        await second.close()


async def test_stores_on_one_database_fold_each_report_once_even_into_one_day(store: Store) -> None:
    # a and b each hold their own reports of ONE home's day in memory, c none: they all fold
    # at once, in small chunks, into the same day rollup
    a, b, c = await opened(store.url), await opened(store.url), await opened(store.url)
    try:
        batch = reports("conf-c", 24)
        for i in range(0, 24, 4):
            await (a if i % 8 else b).write_batch(Batch(batch[i : i + 4], [], []))
        await a.write_batch(Batch(reports("conf-d", 6), [], []))
        counts = await asyncio.gather(*(drain_folds(insights(x), chunk=3) for x in (a, b, c)))
        assert sum(counts) >= 30
        assert await folded_windows(store) == {"conf-c": 24, "conf-d": 6}
        assert await insights(store).pending_folds() == 0
    finally:
        for x in (a, b, c):
            await x.close()


async def test_a_queue_read_back_by_two_stores_at_once_is_folded_once(store: Store) -> None:
    writer = await opened(store.url)
    await writer.write_batch(Batch(reports("conf-e", 12), [], []))
    await writer.close()  # twelve reports left queued, in no one's memory
    a, b = await opened(store.url), await opened(store.url)
    try:
        counts = await asyncio.gather(drain_folds(insights(a), chunk=5), drain_folds(insights(b), chunk=5))
        assert sum(counts) >= 12
        assert await folded_windows(a) == {"conf-e": 12}
        assert await insights(b).pending_folds() == 0
    finally:
        await a.close()
        await b.close()


async def test_a_failed_fold_loses_nothing_and_an_unreadable_payload_blocks_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = folding.add_window
    calls: list[int] = []

    def failing(day: dict[str, Any], parts: dict[str, Any], sparse: dict[int, int]) -> dict[str, Any]:
        calls.append(parts["first"])
        if len(calls) == 2:
            raise RuntimeError("the fold dies half-way")
        return real(day, parts, sparse)

    await store.write_batch(Batch(reports("conf-f", 3), [], []))
    monkeypatch.setattr(folding, "add_window", failing)
    with pytest.raises(RuntimeError, match="half-way"):
        await insights(store).fold_pending()
    monkeypatch.setattr(folding, "add_window", real)
    assert await insights(store).pending_folds() == 3 and await folded_windows(store) == {}
    await execute(store, "UPDATE reports SET payload = ? WHERE seq = ?", [(b"\x00", 2)])  # cannot happen
    assert await drain_folds(insights(store)) == 2  # the unreadable one is dropped, not counted
    assert await insights(store).pending_folds() == 0
    assert await folded_windows(store) == {"conf-f": 2}


async def test_a_report_deleted_by_retention_before_its_fold_leaves_the_queue(store: Store) -> None:
    writer = await opened(store.url)
    await writer.write_batch(Batch(reports("conf-g", 3), [], []))
    await writer.close()
    reopened = await opened(store.url)  # nothing in memory: the queue is read back
    try:
        await reopened.retain(time.time() + 400 * 86400)
        # the two deleted leave the queue; the gateway's latest report is kept (its page shows it) and folded
        assert await drain_folds(insights(reopened)) == 1
        assert await insights(reopened).pending_folds() == 0 and await folded_windows(reopened) == {
            "conf-g": 1
        }
    finally:
        await reopened.close()


# -- day rollups -----------------------------------------------------------------------------
async def test_day_rows_by_range_by_id_and_through_a_pickled_reader(store: Store) -> None:
    s = insights(store)
    for gid, updated in (("gw-A", 10.0), ("gw-B", 20.0), ("gw-b", 30.0), ("gw_a", 40.0)):
        await put_days(store, gid, gamer(week()), updated_at=updated)
    ids = sorted(["gw-A", "gw-B", "gw-b", "gw_a"])
    assert await s.home_ids(MONDAY) == ids and await s.home_ids(MONDAY + 7) == []
    last = MONDAY + 6
    rows = await s.home_day_texts("gw-B", "gw-b", MONDAY + 5, last)
    assert [(g, d) for g, d, _ in rows] == [(g, d) for g in ("gw-B", "gw-b") for d in (MONDAY + 5, last)]
    assert rows[0][2].startswith("{")
    only = await s.home_day_texts("gw-A", "gw_a", last, last, only=["gw_a", "gw-A"])
    assert [g for g, _, _ in only] == ["gw-A", "gw_a"]
    reader = pickle.loads(pickle.dumps(s.day_reader()))
    assert reader("gw-B", "gw-b", MONDAY + 5, last) == rows
    assert reader("gw-A", "gw_a", last, last, ["gw_a", "gw-A"]) == only
    assert await s.updated_homes(25.0) == ["gw-b", "gw_a"]
    days = await s.home_days(MONDAY, MONDAY + 1, ["gw-b"])
    assert [(g, d) for g, d, _ in days] == [("gw-b", MONDAY), ("gw-b", MONDAY + 1)]


# -- CRM ---------------------------------------------------------------------------------
async def test_subscribers_are_upserted_by_gateway(store: Store) -> None:
    s = insights(store)
    rows = parse_subscribers(
        "gateway_id,subscriber_id,plan_down_mbps,plan_up_mbps,price,contract_end,area,community,tenure_months,"
        "complaints,arrears\n"
        "gw-1,S1,300,50,39.90,2026-03-31,north,north-1,7,2,0\ngw-2,S2,100,,,,,,,,\ngw-3,S3,1000,100,59,,south,,,,\n"
    ).rows
    assert await s.upsert_subscribers(rows, imported_at=5.0) == 3
    got = await s.subscribers()
    assert list(sorted(got)) == ["gw-1", "gw-2", "gw-3"]
    assert got["gw-1"] == {"gateway_id": "gw-1", "subscriber_id": "S1", "plan_down_mbps": 300.0, "plan_up_mbps": 50.0,
                           "price": 39.9, "contract_end": "2026-03-31", "area": "north", "community": "north-1",
                           "tenure_months": 7.0, "complaints": 2.0, "arrears": 0.0}  # fmt: skip
    assert got["gw-2"]["plan_up_mbps"] is None and got["gw-2"]["area"] is None
    # a re-import replaces the whole row; within one call, the later row of a gateway wins
    again = [{**rows[0], "plan_down_mbps": 500.0, "area": "west"}, {**rows[0], "subscriber_id": "S1b"}]
    assert await s.upsert_subscribers(again) == 2
    some = await s.subscribers(["gw-1", "gw-3", "gw-nobody"])
    assert sorted(some) == ["gw-1", "gw-3"]
    assert (some["gw-1"]["subscriber_id"], some["gw-1"]["plan_down_mbps"], some["gw-1"]["area"]) == (
        "S1b",
        300.0,
        "north",
    )
    assert await s.area_names() == {"area": ["north", "south"], "community": ["north-1"]}


# -- results -----------------------------------------------------------------------------
def result(
    gid: str, rule: str, kind: str = "label", state: str = "on", version: int = 1, **kw: Any
) -> dict[str, Any]:
    base = {"gateway_id": gid, "rule": rule, "kind": kind, "version": version, "window": "7d", "state": state,
            "score": None, "sentence": f"{rule} of {gid}", "evidence": {"metrics": {"x": 1.5}, "note": "café"}}  # fmt: skip
    return {**base, **kw}


async def test_results_keep_history_appeared_changed_cleared(store: Store) -> None:
    s = insights(store)
    first = [result("gw-a", "heavy_gamer"), result("gw-a", "video_lover", state="long"),
             result("gw-b", "churn_risk", kind="warning", state="high", score=0.8, window="30d")]  # fmt: skip
    summaries = {"gw-a": {"wifi_score": 71.5, "devices": 4, "gb_per_day": 2.5, "online_hours": 3.0, "competitor": False},
                 "gw-b": {"wifi_score": None, "devices": 1, "gb_per_day": 0.1, "online_hours": 0.2, "competitor": True}}  # fmt: skip
    assert await s.save_results(first, 100.0, ["gw-a", "gw-b"], summaries) == {
        "appeared": 3,
        "changed": 0,
        "cleared": 0,
    }
    # new figures alone refresh the row without history; a new state is a change
    second = [
        result("gw-a", "heavy_gamer", sentence="new figures", score=1),
        result("gw-a", "video_lover", state="short"),
    ]
    assert await s.save_results(second, 200.0, ["gw-a"]) == {"appeared": 0, "changed": 1, "cleared": 0}
    # a new rule version is a change; a result no longer there is cleared; gw-b is not touched
    third = [result("gw-a", "heavy_gamer", version=2, sentence="v2")]
    assert await s.save_results(third, 300.0, ["gw-a"]) == {"appeared": 0, "changed": 1, "cleared": 1}
    (gamer_row,) = await s.home_results("gw-a")
    assert gamer_row == {"rule": "heavy_gamer", "kind": "label", "version": 2, "window": "7d", "state": "on",
                         "score": None, "sentence": "v2", "evidence": {"metrics": {"x": 1.5}, "note": "café"},
                         "since": 100.0, "changed_at": 300.0, "evaluated_at": 300.0}  # fmt: skip
    history = await s.result_history("gw-a")
    assert [(h["rule"], h["change"], h["at"], h["version"], h["state"], h["sentence"]) for h in history] == [
        ("video_lover", "cleared", 300.0, 1, "short", "video_lover of gw-a"),
        ("heavy_gamer", "changed", 300.0, 2, "on", "v2"),
        ("video_lover", "changed", 200.0, 1, "short", "video_lover of gw-a"),
        ("video_lover", "appeared", 100.0, 1, "long", "video_lover of gw-a"),
        ("heavy_gamer", "appeared", 100.0, 1, "on", "heavy_gamer of gw-a"),
    ]
    assert len(await s.result_history("gw-a", limit=2)) == 2
    (churn,) = await s.home_results("gw-b")
    assert (churn["score"], churn["since"], churn["evaluated_at"], churn["window"]) == (
        0.8,
        100.0,
        100.0,
        "30d",
    )
    assert await s.home_summary("gw-b") == {"evaluated_at": 100.0, **summaries["gw-b"]}
    assert await s.home_summary("gw-nobody") is None and await s.home_results("gw-nobody") == []


async def fill_homes(store: Store) -> None:
    """Twelve homes in two areas (north: 9, south: 2) and one without a CRM row."""
    s = insights(store)
    crm, results, summaries = [], [], {}
    for i in range(12):
        gid = f"gw-{i:02d}"
        area = "north" if i < 9 else "south" if i < 11 else None
        if area:
            crm.append({"gateway_id": gid, "subscriber_id": f"S{i}", "plan_down_mbps": 100.0, "area": area,
                        "community": f"{area}-{i % 2}"})  # fmt: skip
        if i % 3 == 0:
            results.append(result(gid, "heavy_gamer"))
        if i % 4 == 0:
            results.append(result(gid, "mesh_or_fttr", kind="flag"))
        if i == 5:
            results += [result(gid, "reader"), result(gid, "inactive", kind="warning")]
        summaries[gid] = {"wifi_score": 50.0 + i if i % 5 else None, "devices": i, "gb_per_day": i / 4,
                          "online_hours": 1.0, "competitor": i % 2 == 1}  # fmt: skip
    await s.upsert_subscribers(crm)
    await s.save_results(results, 1000.0, sorted(summaries), summaries)


async def test_homes_filter_by_label_flag_warning_and_area(store: Store) -> None:
    await fill_homes(store)
    s = insights(store)
    everyone = await s.homes()
    assert everyone["total"] == 12 and [h["gateway_id"] for h in everyone["homes"]] == [
        f"gw-{i:02d}" for i in range(12)
    ]
    assert everyone["homes"][0] == {"gateway_id": "gw-00", "subscriber_id": "S0", "area": "north", "community": "north-0",
                                    "wifi_score": None, "devices": 0, "gb_per_day": 0.0, "online_hours": 1.0,
                                    "evaluated_at": 1000.0, "label": ["heavy_gamer"], "flag": ["mesh_or_fttr"],
                                    "warning": []}  # fmt: skip
    assert everyone["homes"][11]["area"] is None and everyone["homes"][11]["subscriber_id"] is None
    gamers = await s.homes(label="heavy_gamer")
    assert gamers["total"] == 4 and [h["gateway_id"] for h in gamers["homes"]] == [
        "gw-00",
        "gw-03",
        "gw-06",
        "gw-09",
    ]
    both = await s.homes(label="heavy_gamer", flag="mesh_or_fttr")
    assert [h["gateway_id"] for h in both["homes"]] == ["gw-00"]
    assert [h["gateway_id"] for h in (await s.homes(warning="inactive"))["homes"]] == ["gw-05"]
    five = (await s.homes(warning="inactive"))["homes"][0]
    assert (five["label"], five["warning"]) == (["reader"], ["inactive"])
    assert (await s.homes(label="heavy_gamer", area="south"))["total"] == 1
    assert [h["gateway_id"] for h in (await s.homes(area="north-1", limit=2, offset=1))["homes"]] == [
        "gw-03",
        "gw-05",
    ]
    assert (await s.homes(area="north-1", limit=0)) == {"total": 4, "homes": []}
    assert (await s.homes(flag="heavy_gamer")) == {"total": 0, "homes": []}  # a label is no flag


async def test_the_area_view_suppresses_small_groups(store: Store) -> None:
    await fill_homes(store)
    s = insights(store)
    areas = await s.area_summary(3)
    assert (
        areas["suppressed"] == {"groups": 1, "homes": 2}
        and areas["level"] == "area"
        and areas["min_group"] == 3
    )
    (north,) = areas["groups"]
    assert north == {"name": "north", "homes": 9, "wifi_score": 54.4, "competitor_density": 0.444, "gb_per_day": 1.0,
                     "devices": 4.0, "labels": {"heavy_gamer": 3, "reader": 1}, "flags": {"mesh_or_fttr": 3},
                     "warnings": {"inactive": 1}}  # fmt: skip
    communities = await s.area_summary(1, "community")
    assert [(g["name"], g["homes"]) for g in communities["groups"]] == [
        ("north-0", 5), ("north-1", 4), ("south-0", 1), ("south-1", 1)
    ]  # fmt: skip
    assert communities["suppressed"] == {"groups": 0, "homes": 0}
    assert (await s.area_summary(100))["groups"] == []
    assert await s.area_names() == {
        "area": ["north", "south"],
        "community": ["north-0", "north-1", "south-0", "south-1"],
    }


# -- evaluation --------------------------------------------------------------------------
async def test_evaluations_keep_history_and_run_incrementally(store: Store) -> None:
    s = insights(store)
    await put_days(store, "gw-a", gamer(week()), updated_at=time.time() - 100)
    await put_days(store, "gw-b", gamer(week()), updated_at=time.time() - 100)
    first = await evaluate(s, CONFIG, as_of=as_of(week()))
    assert first.homes == 2 and first.by_rule == {"heavy_gamer": 2} and first.changes["appeared"] == 2
    assert await evaluate_changed(s, CONFIG, as_of=as_of(week())) is None
    await put_days(store, "gw-b", gamer(week(), minutes=30), updated_at=time.time() + 1)
    run = await evaluate_changed(s, CONFIG, as_of=as_of(week()))
    assert run is not None and run.kind == "incremental" and run.homes == 1
    assert run.changes == {"appeared": 1, "changed": 0, "cleared": 1}
    assert [r["rule"] for r in await s.home_results("gw-b")] == ["inactive"]
    assert [r["rule"] for r in await s.home_results("gw-a")] == ["heavy_gamer"]
    last = await s.last_run()
    assert last is not None and (last["kind"], last["homes"], last["as_of"]) == (
        "incremental",
        1,
        as_of(week()),
    )


async def test_worker_processes_read_for_themselves_and_agree(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collector.profiles.evaluate as module

    s = insights(store)
    for i in range(3):
        await put_days(store, f"gw-{i}", gamer(week(), minutes=200 if i else 20))
    inline = await evaluate(s, CONFIG, as_of=as_of(week()), workers=1)
    monkeypatch.setattr(module, "POOL_MIN_HOMES", 1)
    pooled = await evaluate(s, CONFIG, as_of=as_of(week()), workers=2, chunk_homes=1)
    assert pooled.by_rule == inline.by_rule == {"heavy_gamer": 2, "inactive": 1}
    assert pooled.changes == {"appeared": 0, "changed": 0, "cleared": 0}


CLOCK = SimClock.for_days(2, end=20248 * 86400)
FLEET = {"heavy_gamer": 1, "video_family": 1, "big_poor_wifi": 1, "soho": 1}


@functools.cache
def fleet() -> tuple[list[SpooledMessage], list[dict[str, Any]]]:
    """Two days of four persona homes as validated reports, and their CRM rows."""
    specs = fleet_specs(FLEET, 4, prefix="conf-fleet", seed=3)
    out = []
    for i, spec in enumerate(specs):
        home = VirtualHome(spec.gateway_id, i, spec, CLOCK.span)
        for k in range(CLOCK.windows):
            start, end = CLOCK.window(k)
            if not home.powered(start):
                home.skip(CLOCK.window_s)
                continue
            body = home.report_body(CLOCK.window_s, end)
            frame = report_frame(spec.gateway_id, 1, k + 1, (start, end), home.uptime_s, body, end)
            message = classify(Incoming(topic_for(spec.gateway_id, "report"), frame, k, 1, float(end)))
            assert isinstance(message, SpooledMessage)
            out.append(message)
    out.sort(key=lambda m: (m.window_end, m.gateway_id))  # as a fleet reports: window by window
    crm = "\n".join(",".join(row[c] for c in CRM_COLUMNS) for row in crm_rows(specs, CLOCK.end))
    return out, parse_subscribers(",".join(CRM_COLUMNS) + "\n" + crm + "\n").rows


async def evaluate_fleet(store: Any) -> dict[str, Any]:
    """Ingest the fleet (folding between batches, some of it from the table), evaluate, read back."""
    s = insights(store)
    messages, crm = fleet()
    await s.upsert_subscribers(crm, imported_at=1.0)
    for i in range(0, len(messages), 64):
        await store.write_batch(Batch(messages[i : i + 64], [], []))
        await s.fold_pending(40)
    await drain_folds(s)
    report = await evaluate(s, CONFIG, as_of=CLOCK.end, workers=1)
    ids = sorted({m.gateway_id for m in messages})
    return {
        "by_rule": report.by_rule,
        "changes": report.changes,
        "days": await s.home_days(0, detail=True),
        "results": {g: await s.home_results(g) for g in ids},
        "history": {g: await s.result_history(g) for g in ids},
        "summaries": {g: await s.home_summary(g) for g in ids},
        "homes": await s.homes(),
        "areas": await s.area_summary(1),
    }


async def test_a_small_fleet_is_folded_and_evaluated_end_to_end(store: Store) -> None:
    # which rules fire is the rules' business (test_personas_truth); here: all of it arrives
    got = await evaluate_fleet(store)
    assert sum(data["v"][0] for _, _, data in got["days"]) == len(fleet()[0])
    assert {g for g, _, _ in got["days"]} == set(got["results"]) and len(got["days"]) == 4 * 2
    stored = [r for rows in got["results"].values() for r in rows]
    assert stored and got["by_rule"] == {r: sum(x["rule"] == r for x in stored) for r in got["by_rule"]}
    assert got["changes"] == {"appeared": len(stored), "changed": 0, "cleared": 0}
    assert all(isinstance(r["evidence"], dict) and r["since"] == CLOCK.end for r in stored)
    assert sum(len(h) for h in got["history"].values()) == len(stored)
    assert all(got["summaries"][g]["evaluated_at"] == CLOCK.end for g in got["summaries"])
    assert got["homes"]["total"] == 4
    assert sum(g["homes"] for g in got["areas"]["groups"]) + got["areas"]["suppressed"]["homes"] == 4


@pytest.mark.postgres
async def test_both_backends_give_identical_profiles(tmp_path: Path, postgres_url: str) -> None:
    found = []
    for url in (f"sqlite:///{tmp_path}/same.db", postgres_url):
        s = await opened(url)
        try:
            found.append(await evaluate_fleet(s))
        finally:
            await s.close()
    lite, pg = found
    for key in lite:
        assert pg[key] == lite[key], key
