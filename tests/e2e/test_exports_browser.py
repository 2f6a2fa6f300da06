"""An operator picks a date range on /homes in headless Chromium and downloads the CSV: it opens
with the same rows as the page. Then the report archive shows a report and its files; and a range
picked on a gateway's page moves its charts' time axis and its figures download as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from collector.app import create_app
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.reports.lease import StoreLeases
from collector.reports.schedule import produce_due
from collector.reports.settings import ReportSettings
from collector.store import Store, open_store
from collector.store.base import insights
from collector.web.auth import Auth
from tests.broker import free_port
from tests.cdp import Browser
from tests.collector.reports.fleet import FleetSpec, fill
from tests.collector.test_exports import NOV, OLD, RECENT

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Store]]:
    store = open_store(f"sqlite:///{tmp_path}/ui.db")
    await store.open()
    await fill(store, RECENT)
    await fill(store, OLD)
    await fill(
        store, FleetSpec(homes=12, first_day=NOV + 1, days=3, worse_from=NOV + 9, areas=3, prefix="mid")
    )
    await evaluate(insights(store), load_config(), as_of=(RECENT.first_day + RECENT.days) * 86400, workers=1)
    runner = web.AppRunner(create_app(store, Auth.from_settings("op:secret-pw", "", "secret")))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", store
    await runner.cleanup()
    await store.close()


async def _sign_in(browser: Browser, base: str, path: str) -> None:
    await browser.goto(f"{base}{path}")
    await browser.evaluate(
        "document.querySelector('input[name=user]').value='op';"
        "document.querySelector('input[name=password]').value='secret-pw';"
        "document.querySelector('form.login').submit()"
    )


async def _downloaded(folder: Path, timeout: float = 20.0) -> Path:
    for _ in range(int(timeout * 10)):
        done = [p for p in folder.glob("*.csv")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no CSV downloaded into {folder}: {list(folder.iterdir())}")


async def _download_into(browser: Browser, tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    await browser.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(folder))
    return folder


async def _pick_range(browser: Browser, first: str, last: str) -> None:
    await browser.evaluate(
        f"document.querySelector('form.range input[name=from]').value='{first}';"
        f"document.querySelector('form.range input[name=to]').value='{last}';"
        "document.querySelector('form.range').submit()"
    )


@pytest.mark.timeout(120)
async def test_a_date_range_on_homes_downloads_the_same_rows(
    site: tuple[str, Store], browser: Browser, tmp_path: Path
) -> None:
    base, _ = site
    downloads = await _download_into(browser, tmp_path)
    await _sign_in(browser, base, "/homes")
    await browser.wait_for("document.querySelector('#homes') !== null")
    everyone = await browser.evaluate("document.querySelector('#total b').innerText")
    assert int(everyone) == RECENT.homes + OLD.homes + 12
    # pick 2 to 4 November in the range form and apply it
    await _pick_range(browser, "2026-11-02", "2026-11-04")
    await browser.wait_for(
        "location.search.includes('from=2026-11-02') && document.querySelector('#homes') !== null"
    )
    shown = await browser.evaluate(
        "[...document.querySelectorAll('#homes tbody tr')].map(r => [r.cells[0].innerText, r.cells[3].innerText])"
    )
    expected = {OLD.gid(i) for i in range(OLD.homes)} | {f"mid-{i:05d}" for i in range(12)}
    assert {gid for gid, _ in shown} == expected
    await browser.evaluate("document.querySelector('#export-csv').click()")
    rows = list(csv.reader(io.StringIO((await _downloaded(downloads)).read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Gateway"
    assert [(r[0], f"{float(r[4]):.0f}" if r[4] else "–") for r in rows[1:]] == [tuple(s) for s in shown]
    # "previous period" moves the range back by its length
    await browser.evaluate(
        "[...document.querySelectorAll('.shortcuts a')].find(a => a.innerText == 'previous period').click()"
    )
    await browser.wait_for(
        "location.search.includes('from=2026-10-30') && location.search.includes('to=2026-11-01')"
    )


@pytest.mark.timeout(120)
async def test_the_archive_page_shows_a_report(site: tuple[str, Store], browser: Browser) -> None:
    base, store = site
    from datetime import date

    made = await produce_due(store, load_config(), ReportSettings(periods="week"), StoreLeases(store.db), "t",
                             date(2026, 12, 2))  # fmt: skip
    assert made == ["week-2026-W48"]
    await _sign_in(browser, base, "/reports")
    await browser.wait_for("document.querySelector('#reports') !== null")
    links = await browser.evaluate("[...document.querySelectorAll('#reports a')].map(a => a.innerText)")
    assert links[0] == "week-2026-W48" and "report.pdf" in links and "kpis" in links
    await browser.evaluate("document.querySelector('#reports a').click()")
    await browser.wait_for("document.title.includes('Week 48 of 2026')")
    assert await browser.evaluate("document.querySelectorAll('table').length") >= 10


@pytest.mark.timeout(120)
async def test_a_range_on_the_gateway_page_moves_the_chart_axis_and_downloads_its_table(
    site: tuple[str, Store], browser: Browser, tmp_path: Path
) -> None:
    base, _ = site
    downloads = await _download_into(browser, tmp_path)
    gid = RECENT.gid(2)
    axis = "[...document.querySelector('svg.chart').querySelectorAll('text.chart-label')].map(t => t.textContent)"
    await _sign_in(browser, base, f"/gateways/{gid}")
    await browser.wait_for("document.querySelector('form.range') !== null")
    before = await browser.evaluate(axis)
    assert "13 Nov" in before and "30 Nov" in before  # the windows stored: 13 to 30 November
    await _pick_range(browser, "2026-11-21", "2026-11-24")
    await browser.wait_for(
        "location.search.includes('from=2026-11-21') && document.querySelector('svg.chart') !== null"
    )
    after = await browser.evaluate(axis)
    assert [t for t in after if t[0].isdigit() and " " in t] == ["21 Nov", "22 Nov", "24 Nov"], after
    # the charts' figures as CSV: the windows of those 4 days, 4 a day
    await browser.evaluate("document.querySelector('#export-history-csv').click()")
    rows = list(csv.reader(io.StringIO((await _downloaded(downloads)).read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Window end (UTC)" and len(rows) - 1 == 16
    assert rows[1][0].startswith("2026-11-21") and rows[-1][0].startswith("2026-11-24")
