"""The archive, the schedule's lease (one collector each report), mail over SMTP, and the
archive's page and API."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.profiles.config import load_config
from collector.reports import archive
from collector.reports.lease import StoreLeases
from collector.reports.pdf import chromium
from collector.reports.schedule import produce_due
from collector.reports.settings import ReportSettings
from collector.store import open_store
from collector.web.auth import Auth
from tests.collector.reports.fleet import FleetSpec, fill
from tests.collector.reports.smtp import SmtpServer

CONFIG = load_config()
TODAY = date(2026, 12, 2)  # week 48 (23-29 November) is due; November has data from the 13th
TOKEN = "reports-token"


def spec() -> FleetSpec:
    first = (date(2026, 11, 13) - date(1970, 1, 1)).days
    return FleetSpec(homes=12, first_day=first, days=18, worse_from=first + 10)


async def test_leases_have_one_owner_until_they_expire(store: Any) -> None:
    leases = StoreLeases(store.db)
    assert await leases.acquire("report:x", "a", 60)
    assert not await leases.acquire("report:x", "b", 60)
    assert await leases.acquire("report:x", "a", 60)  # the owner renews
    assert await leases.acquire("report:y", "b", 60)  # another name is free
    await leases.release("report:x", "b")  # not b's: nothing happens
    assert not await leases.acquire("report:x", "b", 60)
    await leases.release("report:x", "a")
    assert await leases.acquire("report:x", "b", 0.01)
    await asyncio.sleep(0.05)
    assert await leases.acquire("report:x", "a", 60)  # b's lease expired


async def test_two_collectors_make_each_scheduled_report_once(store: Any) -> None:
    await fill(store, spec())
    settings = ReportSettings(pdf=False)
    made = await asyncio.gather(
        *(
            produce_due(store, CONFIG, settings, StoreLeases(store.db), f"collector-{n}", TODAY)
            for n in range(3)
        )
    )
    # on 2 December the week of 23-29 November and the month of November are due: each made once
    names = sorted(n for m in made for n in m)
    assert names == ["month-2026-11", "week-2026-W48"], made
    listed = await archive.listing(store.db)
    assert sorted(r["name"] for r in listed) == names
    week = next(r for r in listed if r["name"] == "week-2026-W48")
    assert {f["name"] for f in week["files"]} >= {"report.html", "kpis.csv", "results.csv"}
    assert week["headline"]["gateways"] == 12
    # later checks find them archived and make nothing
    assert await produce_due(store, CONFIG, settings, StoreLeases(store.db), "collector-9", TODAY) == []
    # an on-demand report of the same period replaces the archived one
    await archive.save(store.db, await _built(store), "cli")  # on demand replaces; still one row
    assert len(await archive.listing(store.db)) == 2


async def _built(store: Any) -> Any:
    from collector.reports.build import build
    from collector.reports.period import week_of

    return await build(store, week_of(TODAY), CONFIG, pdf=False)


async def test_a_held_lease_keeps_other_collectors_out(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    await store.open()
    try:
        await fill(store, spec())
        leases = StoreLeases(store.db)
        assert await leases.acquire("report:week-2026-W48", "elsewhere", 600)
        made = await produce_due(
            store, CONFIG, ReportSettings(pdf=False, periods="week"), leases, "here", TODAY
        )
        assert made == [] and not await archive.exists(store.db, "week-2026-W48")
    finally:
        await store.close()


async def test_a_scheduled_report_is_mailed(tmp_path: Path) -> None:
    server = SmtpServer()
    await server.start()
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    await store.open()
    try:
        await fill(store, spec())
        settings = ReportSettings(
            periods="week", pdf=chromium() is not None, smtp_host="127.0.0.1", smtp_port=server.port,
            mail_from="reports@isp.example", mail_to="noc@isp.example, sales@isp.example",
        )  # fmt: skip
        made = await produce_due(store, CONFIG, settings, StoreLeases(store.db), "here", TODAY)
        entry = await archive.entry(store.db, "week-2026-W48")
    finally:
        await store.close()
        await server.stop()
    assert made == ["week-2026-W48"]
    assert len(server.messages) == 1
    msg = server.messages[0]
    assert msg["Subject"].startswith("homescope report: Week 48 of 2026")
    assert server.envelopes[0] == ("reports@isp.example", ["noc@isp.example", "sales@isp.example"])
    assert "Gateways reporting: 12" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    if chromium() is not None:
        pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert len(pdf) == 1 and pdf[0].get_content().startswith(b"%PDF")
    assert entry is not None and entry["mailed_at"] is not None and entry["mailed_at"] <= time.time()


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> Any:
    store = open_store(f"sqlite:///{tmp_path}/web.db")
    await store.open()
    await fill(store, spec())
    await produce_due(
        store, CONFIG, ReportSettings(pdf=False, periods="week"), StoreLeases(store.db), "t", TODAY
    )
    c = await aiohttp_client(create_app(store, Auth.from_settings("alice:wonderland", TOKEN, "secret")))
    # pages need a session (bearer tokens open the API only)
    assert (
        await c.post("/login", data={"user": "alice", "password": "wonderland", "next": "/"})
    ).status == 200
    yield c
    await store.close()


H = {"Authorization": f"Bearer {TOKEN}"}


async def test_the_archive_page_and_api_list_the_reports_and_serve_their_files(client: TestClient) -> None:
    found = await (await client.get("/api/v1/reports", headers=H)).json()
    assert [r["name"] for r in found["reports"]] == ["week-2026-W48"]
    page = await (await client.get("/reports", headers=H)).text()
    assert "week-2026-W48" in page and "/reports/week-2026-W48/kpis.csv" in page
    html = await client.get("/reports/week-2026-W48/report.html", headers=H)
    assert html.status == 200 and "Week 48 of 2026" in await html.text()
    csv = await client.get("/reports/week-2026-W48/kpis.csv", headers=H)
    assert csv.headers["Content-Disposition"].endswith('"week-2026-W48-kpis.csv"')
    assert (await csv.read()).startswith(b"\xef\xbb\xbf")
    one = await (await client.get("/api/v1/reports/week-2026-W48", headers=H)).json()
    assert one["first_day"] == "2026-11-23" and one["headline"]["gateways"] == 12
    # a range: reports whose period overlaps it
    inside = await (await client.get("/api/v1/reports?from=2026-11-29&to=2026-12-05", headers=H)).json()
    outside = await (await client.get("/api/v1/reports?from=2026-11-01&to=2026-11-22", headers=H)).json()
    assert (len(inside["reports"]), len(outside["reports"])) == (1, 0)


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/api/v1/reports?limit=x", 400, "limit"),
        ("/api/v1/reports?limit=5000", 400, "limit"),
        ("/api/v1/reports?from=2026-02-30", 400, "from"),
        ("/api/v1/reports?to=yesterday", 400, "to"),
        ("/api/v1/reports?range=forever", 400, "range"),
        ("/api/v1/reports?colour=red", 400, "colour"),
        ("/reports?from=2026-12-05&to=2026-12-01", 400, "from"),
        ("/api/v1/reports/week-1999-W01", 404, "week-1999-W01"),
        ("/reports/week-2026-W48/nothing.csv", 404, "nothing.csv"),
        ("/reports/week-2026-W48/..%2Fsecret.csv", 404, "secret"),
    ],
)
async def test_bad_parameters_are_named(client: TestClient, path: str, status: int, names: str) -> None:
    response = await client.get(path, headers=H)
    assert response.status == status
    assert names in await response.text()
