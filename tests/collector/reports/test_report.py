"""Reports on a synthetic fleet: every figure checked against the store, on both backends; the
PDF printed by Chromium and looked at as PNG pages; the command writes every file."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.reports.build import build
from collector.reports.figures import gather
from collector.reports.pdf import chromium
from collector.reports.period import Period, week_of
from collector.store.base import insights
from tests.collector.reports.fleet import GB, FleetSpec, fill
from tests.collector.reports.pictures import ink, pdf_to_png

CONFIG = load_config()
WEEK = week_of(date(2026, 11, 30))  # Monday 23 to Sunday 29 November 2026


def spec(homes: int = 40) -> FleetSpec:
    before = WEEK.previous()
    return FleetSpec(homes=homes, first_day=before.first_day - 3, days=17, worse_from=WEEK.first_day)


async def filled(store: Any, homes: int = 40) -> FleetSpec:
    s = spec(homes)
    await fill(store, s)
    before = WEEK.previous()
    for as_of in (before.start, before.end, WEEK.end):  # history: evaluations at each period's end
        await evaluate(insights(store), CONFIG, as_of=as_of, workers=1)
    return s


async def one(store: Any, sql: str, params: tuple[Any, ...]) -> Any:
    row = await store.db.fetch_one(sql, params)
    assert row is not None
    return next(iter(row.values()))


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


async def test_figures_match_the_store(store: Any) -> None:
    s = await filled(store)  # 10 homes an area: the minimum group
    report = await gather(store, WEEK, CONFIG)
    window = (WEEK.start, WEEK.end)
    operator = report.tables["kpis"].rows[0]
    assert (
        operator["gateways"]
        == await one(
            store,
            "SELECT count(DISTINCT gateway_id) FROM gateway_daily WHERE start >= ? AND start < ?",
            window,
        )
        == s.homes
    )
    wan = await one(
        store,
        "SELECT sum(wan_rx_bytes) + sum(wan_tx_bytes) FROM gateway_daily WHERE start >= ? AND start < ?",
        window,
    )
    assert operator["wan_gb"] == pytest.approx(int(wan) / GB, abs=0.01)
    cpu_outliers = await one(
        store,
        "SELECT count(*) FROM (SELECT gateway_id FROM gateway_daily WHERE start >= ? AND start < ?"
        " GROUP BY gateway_id HAVING sum(cpu_sum) / sum(cpu_n) >= 80) AS o",
        window,
    )
    mem_outliers = await one(
        store,
        "SELECT count(*) FROM (SELECT gateway_id FROM gateway_facts WHERE window_end > ? AND window_end <= ?"
        " GROUP BY gateway_id HAVING avg(mem_used_pct) >= 90) AS o",
        window,
    )
    assert (operator["cpu_outliers"], operator["memory_outliers"]) == (cpu_outliers, mem_outliers) == (4, 2)
    assert {r["gateway_id"] for r in report.tables["outliers"].rows} == {
        s.gid(i) for i in range(s.homes) if i % 10 == 0 or i % 20 == 1
    }
    daily = report.tables["daily"].rows
    assert [r["day"] for r in daily] == [f"2026-11-{d}" for d in range(23, 30)]
    assert all(r["gateways"] == s.homes for r in daily)
    # Wi-Fi: the i % 5 == 0 homes fell from 90 to 30 this week
    worse = report.tables["wifi_worse"].rows
    assert {r["gateway_id"] for r in worse} == {s.gid(i) for i in range(s.homes) if i % 5 == 0}
    assert all((r["score_before"], r["score"]) == (90.0, 30.0) for r in worse)
    bands = by(report.tables["wifi"].rows, "band")
    assert (bands["poor (< 40)"]["homes"], bands["poor (< 40)"]["homes_before"]) == (8, 0)
    # results: as the store holds them after the evaluation at the week's end
    current = await store.db.fetch("SELECT rule, count(*) AS n FROM home_results GROUP BY rule")
    results = by(report.tables["results"].rows, "rule")
    assert {r: row["homes"] for r, row in results.items() if row["homes"]} == {
        str(c["rule"]): int(c["n"]) for c in current
    }
    appeared = await store.db.fetch(
        "SELECT rule, count(*) AS n FROM result_history WHERE change = 'appeared' AND at > ? AND at <= ? GROUP BY rule",
        window,
    )
    assert {r: row["appeared"] for r, row in results.items() if row["appeared"]} == {
        str(c["rule"]): int(c["n"]) for c in appeared
    }
    gamers = results["heavy_gamer"]
    assert (gamers["homes"], gamers["homes_before"], gamers["appeared"]) == (10, 5, 5)
    usage = by(report.tables["usage"].rows, "category")
    assert (usage["video"]["homes"], usage["video"]["hours_per_day"]) == (s.homes, 2.0)
    assert by(report.tables["apps"].rows, "application")["YouTube"]["homes"] == s.homes
    # areas: area-0's Wi-Fi channels got busy (30 -> 70 %), the only capacity suggestion
    areas = by(report.tables["areas"].rows, "area")
    assert (areas["area-0"]["congestion_pct"], areas["area-0"]["congestion_pct_before"]) == (70.0, 30.0)
    assert [r["area"] for r in report.tables["capacity"].rows] == ["area-0"]
    assert report.tables["campaigns"].rows == [] and "No campaign" in report.tables["campaigns"].note


async def test_areas_below_the_minimum_group_are_not_shown(tmp_path: Path) -> None:
    from collector.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/s.db")
    await store.open()
    try:
        await fill(
            store, FleetSpec(homes=12, first_day=WEEK.first_day - 7, days=14, worse_from=WEEK.first_day)
        )
        report = await gather(store, WEEK, CONFIG)  # 3 homes an area, min_group 10
    finally:
        await store.close()
    assert report.tables["areas"].rows == []
    assert "4 areas" in report.tables["areas"].note
    assert [r["scope"] for r in report.tables["kpis"].rows] == ["all (operator)"]


@pytest.mark.skipif(chromium() is None, reason="no chromium")
async def test_the_pdf_has_pages_with_content(tmp_path: Path) -> None:
    from collector.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/s.db")
    await store.open()
    try:
        await filled(store, homes=24)
        built = await build(store, WEEK, CONFIG)
    finally:
        await store.close()
    built.write(tmp_path / "out")
    pages = pdf_to_png(tmp_path / "out" / "report.pdf", tmp_path / "png")
    assert len(pages) >= 2
    inked = [ink(p) for p in pages]
    assert all(share > 0.01 for share in inked), inked  # no blank page
    assert b"Week 48 of 2026" in built.files["report.html"]


def test_the_command_writes_html_pdf_and_csvs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from collector.store import open_store

    async def prepare() -> None:
        store = open_store(f"sqlite:///{tmp_path}/s.db")
        await store.open()
        try:
            await filled(store, homes=12)
        finally:
            await store.close()

    asyncio.run(prepare())
    out = tmp_path / "out"
    flags = ["--no-pdf"] if chromium() is None else []
    code = main(["report", "--db", f"sqlite:///{tmp_path}/s.db", "--period", "week", "--as-of", "2026-12-02",
                 "--out", str(out), *flags])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "kpis.csv", "results.csv", "areas.csv", "wifi_worse.csv"} <= names
    assert chromium() is None or "report.pdf" in names
    kpis = (out / "kpis.csv").read_bytes()
    assert kpis.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read UTF-8
    rows = list(csv.reader(io.StringIO(kpis.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Operator or area", "Gateways reporting"] and rows[1][:2] == [
        "all (operator)",
        "12",
    ]
    assert "week-2026-W48" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "week", "--as-of", "2026-13-01"], "--as-of must be a date YYYY-MM-DD"),
        (["--from", "2026-11-01"], "--from and --to go together"),
        (["--from", "2026-11-01", "--to", "2026-12-15"], "at most 31 days"),
        (["--from", "2026-11-05", "--to", "2026-11-01"], "is before from"),
        (["--from", "0001-01-01", "--to", "0001-01-02"], "--from must be a day from 1970-03-01"),
        ([], "give --period"),
    ],
)
def test_bad_periods_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["report", "--db", f"sqlite:///{tmp_path}/s.db", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_periods() -> None:
    assert (WEEK.first, WEEK.last, WEEK.name) == (date(2026, 11, 23), date(2026, 11, 29), "week-2026-W48")
    assert week_of(date(2026, 11, 29)).first == date(2026, 11, 16)  # a Sunday: that week is not over
    month = Period("month", date(2026, 3, 1), date(2026, 3, 31))
    assert (month.previous().first, month.previous().last) == (date(2026, 2, 1), date(2026, 2, 28))
    assert month.days == 31 and month.end - month.start == 31 * 86400
