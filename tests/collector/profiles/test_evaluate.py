"""Evaluation over a real SQLite store: ingest folds each new report once; results keep history."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate, evaluate_changed, evidence_text, parse_day
from collector.profiles.rollup import split_day
from collector.store import Batch, SpooledMessage, open_store
from collector.store.base import InsightsStore, drain_folds, insights
from emulator.home import VirtualHome
from emulator.truth import fleet_specs
from tests.collector.profiles.builders import MONDAY, Day, as_of, week

CONFIG = load_config()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    s = open_store(f"sqlite:///{tmp_path}/p.db")
    await s.open()
    yield s
    await s.close()


def put_days(path: str, gateway_id: str, days: list[Day], updated_at: float = 1.0) -> None:
    db = sqlite3.connect(path)
    with db:
        for d in days:
            core, detail = split_day(d.data())
            db.execute(
                "INSERT INTO home_days VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway_id, day) DO UPDATE SET"
                " data = excluded.data, updated_at = excluded.updated_at",
                (gateway_id, d.day, json.dumps(core), json.dumps(detail), updated_at),
            )
    db.close()


def gamer(days: list[Day], minutes: int = 200) -> list[Day]:
    for d in days:
        d.minutes("game", minutes, down=100_000_000).engaged(minutes).terminals(("ps5", "Sony", "wired"))
    return days


async def test_each_new_report_is_folded_once(store: Any) -> None:
    spec = fleet_specs({"heavy_gamer": 1}, 1, prefix="fold")[0]
    home = VirtualHome(spec.gateway_id, 1, spec)
    start = MONDAY * 86400 + 20 * 3600
    messages = [
        SpooledMessage(spec.gateway_id, 1, k + 1, "report", start + 900 * k, start + 900 * (k + 1), 0, 0, 1.0,
                       home.report_body(900, start + 900 * (k + 1)), b"x")
        for k in range(4)
    ]  # fmt: skip
    await store.write_batch(Batch(messages[:3], [], []))
    await store.write_batch(Batch(messages, [], []))  # three duplicates and one new report
    assert await drain_folds(insights(store)) == 4
    assert await insights(store).fold_pending() == 0
    ((gid, day, data),) = await insights(store).home_days(MONDAY, detail=True)
    assert (gid, day) == (spec.gateway_id, MONDAY)
    assert data["v"][0] == 4 and data["first"] == start and data["last"] == start + 3600
    assert set(data) >= {"v", "tm", "sx", "apps", "hb", "slots", "comp"}
    assert "sx" not in (await insights(store).home_days(MONDAY))[0][2]


async def test_results_keep_history_appeared_changed_cleared(store: Any) -> None:
    s: InsightsStore = insights(store)
    put_days(store.path, "gw-a", gamer(week()))
    first = await evaluate(s, CONFIG, as_of=as_of(week()))
    assert first.homes == 1 and first.by_rule == {"heavy_gamer": 1} and first.changes["appeared"] == 1
    (result,) = await s.home_results("gw-a")
    assert result["rule"] == "heavy_gamer" and result["window"] == "7d" and result["version"] == 1
    assert result["sentence"] == "3.3 h/day of gaming on 7 of 7 days"
    assert result["evidence"]["metrics"]["hours_per_day"] == 3.333
    assert result["evidence"]["thresholds"]["min_hours_per_day"] == 2.0

    # the next week the household watches films instead: gaming clears, video appears ("long")
    later = week(MONDAY + 7)
    for d in later:
        d.minutes("video", 240).engaged(240)
    put_days(store.path, "gw-a", later)
    second = await evaluate(s, CONFIG, as_of=as_of(later))
    assert second.changes == {"appeared": 1, "changed": 0, "cleared": 1}
    # then short video takes over: same label, new state -> "changed"
    third_week = week(MONDAY + 14)
    for d in third_week:
        d.minutes("short_video", 240).engaged(240)
    put_days(store.path, "gw-a", third_week)
    third = await evaluate(s, CONFIG, as_of=as_of(third_week))
    assert third.changes == {"appeared": 0, "changed": 1, "cleared": 0}
    history = await s.result_history("gw-a")
    assert [(h["rule"], h["change"], h["state"]) for h in history] == [
        ("video_lover", "changed", "short"),
        ("heavy_gamer", "cleared", "on"),
        ("video_lover", "appeared", "long"),
        ("heavy_gamer", "appeared", "on"),
    ]
    assert history[0]["at"] == as_of(third_week)
    (current,) = await s.home_results("gw-a")
    assert current["since"] == as_of(later) and current["changed_at"] == as_of(third_week)


async def test_an_incremental_run_takes_only_homes_updated_since_the_last(store: Any) -> None:
    s: InsightsStore = insights(store)
    put_days(store.path, "gw-a", gamer(week()), updated_at=time.time() - 100)
    put_days(store.path, "gw-b", gamer(week()), updated_at=time.time() - 100)
    assert (await evaluate(s, CONFIG, as_of=as_of(week()))).homes == 2
    assert await evaluate_changed(s, CONFIG, as_of=as_of(week())) is None
    put_days(store.path, "gw-b", gamer(week(), minutes=30), updated_at=time.time() + 1)
    run = await evaluate_changed(s, CONFIG, as_of=as_of(week()))
    assert run is not None and run.kind == "incremental" and run.homes == 1
    # half an hour a day and 0.1 GB: no longer a gamer, now barely used
    assert run.changes == {"appeared": 1, "changed": 0, "cleared": 1}
    assert [r["rule"] for r in await s.home_results("gw-b")] == ["inactive"]
    assert [r["rule"] for r in await s.home_results("gw-a")] == ["heavy_gamer"]
    assert (await s.last_run() or {})["kind"] == "incremental"


def test_the_evaluate_command_recomputes_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    path = tmp_path / "cli.db"

    async def create() -> None:
        s = open_store(db)
        await s.open()
        await s.close()

    asyncio.run(create())
    put_days(str(path), "gw-a", gamer(week()))
    capsys.readouterr()
    assert main(["evaluate", "--db", db, "--as-of", str(as_of(week())), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["homes"] == 1 and report["by_rule"] == {"heavy_gamer": 1} and report["kind"] == "full"
    assert main(["evaluate", "--db", db, "--as-of", str(as_of(week()))]) == 0
    assert "evaluated 1 homes" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.heavy_gamer]\nnope = 1\n")
    assert main(["evaluate", "--db", db, "--config", str(bad)]) == 2


async def test_worker_processes_read_for_themselves_and_agree(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collector.profiles.evaluate as module

    s: InsightsStore = insights(store)
    for i in range(3):
        put_days(store.path, f"gw-{i}", gamer(week(), minutes=200 if i else 20))
    inline = await evaluate(s, CONFIG, as_of=as_of(week()), workers=1)
    stored = {g: await s.home_results(g) for g in ("gw-0", "gw-1", "gw-2")}
    monkeypatch.setattr(module, "POOL_MIN_HOMES", 1)
    pooled = await evaluate(s, CONFIG, as_of=as_of(week()), workers=2, chunk_homes=1)
    assert pooled.by_rule == inline.by_rule == {"heavy_gamer": 2, "inactive": 1}
    assert pooled.changes == {"appeared": 0, "changed": 0, "cleared": 0}
    # workers encode the evidence themselves: the same rows as the in-process run wrote
    again = {g: await s.home_results(g) for g in stored}
    for g, rows in stored.items():
        assert [{**r, "evaluated_at": 0} for r in rows] == [{**r, "evaluated_at": 0} for r in again[g]]
    # the workers' CPU counts too (forkserver workers are not even children of this process)
    assert pooled.cpu_seconds > 0 and inline.cpu_seconds >= 0


def test_rows_read_as_json_reads_them() -> None:
    # msgspec parses the rows; what it refuses (NaN, a lone surrogate json.dumps escaped) still reads
    for text in ('{"v":[1,2],"tm":{"a":[1,"b","c","d",4]}}', '{"mesh":NaN}', '{"tm":{"x":[1,"\\ud800"]}}'):
        assert repr(parse_day(text)) == repr(json.loads(text))


async def test_evidence_is_saved_from_a_dict_or_its_json_text(store: Any) -> None:
    s: InsightsStore = insights(store)
    base = {"rule": "heavy_gamer", "kind": "label", "version": 1, "window": "7d", "state": "on", "score": None,
            "sentence": "x"}  # fmt: skip
    evidence = {"thresholds": {"min_hours_per_day": 2.0}, "metrics": {"hours_per_day": 3.5, "ssid": "Caf\u00e9"},
                "factors": []}  # fmt: skip
    await s.save_results(
        [{**base, "gateway_id": "gw-a", "evidence": evidence},
         {**base, "gateway_id": "gw-b", "evidence": evidence_text(evidence)}],
        1000.0, ["gw-a", "gw-b"],
    )  # fmt: skip
    (a,), (b,) = await s.home_results("gw-a"), await s.home_results("gw-b")
    assert a == b and a["evidence"] == evidence
    db = sqlite3.connect(store.path)
    texts = {t for (t,) in db.execute("SELECT evidence FROM home_results")}
    assert texts == {json.dumps(evidence, separators=(",", ":"))}
    db.close()
