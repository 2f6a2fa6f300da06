"""Exports (CSV with BOM and formula-safe cells, JSON) of every list, the homes list over a date
range, the gateways list's filters and an area's trends, over the real app and a real store."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.ingest import Incoming, classify
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.reports.export import safe_cell
from collector.store import Batch, SpooledMessage, Store, open_store
from collector.store.base import insights
from collector.store.sql import Statement
from collector.web.auth import Auth
from protocol.codec import encode
from protocol.topics import topic_for
from tests.collector.reports.fleet import FleetSpec, fill
from tests.protocol.messages import report

TOKEN = "export-token"
H = {"Authorization": f"Bearer {TOKEN}"}
NOV = (date(2026, 11, 1) - date(1970, 1, 1)).days
RECENT = FleetSpec(homes=60, first_day=NOV + 12, days=18, worse_from=NOV + 22, areas=3, prefix="new")
OLD = FleetSpec(homes=5, first_day=NOV, days=5, worse_from=NOV, areas=3, prefix="old")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:///{tmp_path}/exports.db")
    await s.open()
    await fill(s, RECENT)
    await fill(s, OLD)
    # a CRM value that a spreadsheet would run as a formula
    await s.db.execute(Statement("UPDATE subscribers SET area = ? WHERE gateway_id = ?",
                                 ('=HYPERLINK("http://evil.example","x")', OLD.gid(0))))  # fmt: skip
    await evaluate(insights(s), load_config(), as_of=(RECENT.first_day + RECENT.days) * 86400, workers=1)
    failing = classify(Incoming(topic_for("gw-failing", "report"), encode(report(
        "gw-failing", samplers={"system": {"state": "ok"}, "wifi": {"state": "error", "reason": "iw crashed"}})),
        1, 1, time.time()))  # fmt: skip
    assert isinstance(failing, SpooledMessage)
    await s.write_batch(Batch([failing], [], []))
    yield s
    await s.close()


@pytest.fixture
async def client(aiohttp_client: Any, store: Store) -> TestClient:
    c: TestClient = await aiohttp_client(
        create_app(store, Auth.from_settings("alice:wonderland", TOKEN, "secret"))
    )
    # pages need a session (bearer tokens open the API only); the API calls carry the token
    assert (
        await c.post("/login", data={"user": "alice", "password": "wonderland", "next": "/"})
    ).status == 200
    return c


def table(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def test_homes_export_is_every_matching_home_not_a_page(client: TestClient) -> None:
    api = await (await client.get("/api/v1/homes?limit=10000", headers=H)).json()
    response = await client.get("/homes.csv", headers=H)
    assert response.headers["Content-Disposition"].startswith('attachment; filename="homescope-homes-')
    rows = table(await response.read())
    assert rows[0][:3] == ["Gateway", "Subscriber", "Area"]
    assert [r[0] for r in rows[1:]] == [h["gateway_id"] for h in api["homes"]]
    assert len(rows) - 1 == api["total"] == RECENT.homes + OLD.homes > 50  # more than a page of /homes
    as_json = json.loads(await (await client.get("/homes.json", headers=H)).read())
    assert [h["gateway_id"] for h in as_json["homes"]] == [r[0] for r in rows[1:]]
    gamer = next(h for h in as_json["homes"] if h["gateway_id"] == RECENT.gid(0))
    assert "heavy_gamer" in gamer["label"]
    assert next(r for r in rows if r[0] == RECENT.gid(0))[9] == ", ".join(gamer["label"])


async def test_a_date_range_keeps_the_homes_that_reported_in_it(client: TestClient) -> None:
    q = "from=2026-11-20&to=2026-11-22"
    page = await (await client.get(f"/homes?{q}", headers=H)).text()
    csv_rows = table(await (await client.get(f"/homes.csv?{q}", headers=H)).read())
    ids = {r[0] for r in csv_rows[1:]}
    assert ids == {RECENT.gid(i) for i in range(RECENT.homes)}
    assert f"<b>{RECENT.homes}</b> evaluated homes match" in page
    assert 'href="/homes.csv?from=2026-11-20&amp;to=2026-11-22"' in page
    old = table(
        await (await client.get("/homes.csv?from=2026-11-02&to=2026-11-04&area=area-1", headers=H)).read()
    )
    assert [r[0] for r in old[1:]] == [OLD.gid(1), OLD.gid(4)]
    last7 = await (await client.get("/api/v1/homes?range=last7", headers=H)).json()
    assert last7["total"] == 0  # the fleet's days are in 2026's autumn, not this week


async def test_formula_cells_are_neutralised(client: TestClient) -> None:
    rows = table(await (await client.get("/homes.csv", headers=H)).read())
    evil = next(r for r in rows if r[0] == OLD.gid(0))
    assert evil[2] == '\'=HYPERLINK("http://evil.example","x")'
    assert [safe_cell(v) for v in ("+1", "-x", "@SUM(A1)", "\tx", "ok", -3, 2.5, None)] == [
        "'+1", "'-x", "'@SUM(A1)", "'\tx", "ok", -3, 2.5, ""]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=offline", {RECENT.gid(i) for i in range(RECENT.homes) if i % 9 == 0}
         | {OLD.gid(i) for i in range(OLD.homes) if i % 9 == 0}),
        ("agent=outdated", {RECENT.gid(i) for i in range(RECENT.homes) if i % 6 == 0}
         | {OLD.gid(i) for i in range(OLD.homes) if i % 6 == 0}),
        ("cpu_min=80", {RECENT.gid(i) for i in range(RECENT.homes) if i % 10 == 0}
         | {OLD.gid(i) for i in range(OLD.homes) if i % 10 == 0}),
        ("sampler=failing", {"gw-failing"}),
        ("from=2026-11-01&to=2026-11-06", {OLD.gid(i) for i in range(OLD.homes)}),
    ],
)  # fmt: skip
async def test_gateway_filters(client: TestClient, query: str, expected: set[str]) -> None:
    rows = table(await (await client.get(f"/gateways.csv?{query}", headers=H)).read())
    assert {r[0] for r in rows[1:]} == expected
    page = await (await client.get(f"/?{query}", headers=H)).text()
    assert page.count('<td><a href="/gateways/') == len(expected)


async def test_areas_and_quarantine_export(client: TestClient) -> None:
    areas = json.loads(await (await client.get("/areas.json", headers=H)).read())["areas"]
    assert [a["name"] for a in areas] == ["area-0", "area-1", "area-2"] and areas[0][
        "homes"
    ] == 20 + 1  # old-00003
    assert table(await (await client.get("/quarantine.csv", headers=H)).read())[0][0] == "Id"


async def test_area_trends(client: TestClient) -> None:
    page = await (await client.get("/areas/area-1?from=2026-11-20&to=2026-11-26", headers=H)).text()
    assert page.count("<tr><td>2026-11-") == 7 and "Wi-Fi station windows with a weak signal" in page
    assert "26 Nov" in page  # the time axis
    small = await (await client.get("/areas/nowhere", headers=H)).text()
    assert "fewer than" in small


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/homes.csv?from=2026-11-31", "from"),
        ("/homes?to=later", "to"),
        ("/homes?range=always", "range"),
        ("/homes?colour=red", "colour"),
        ("/api/v1/homes?limit=-1", "limit"),
        ("/homes.json?label=nonsense", "label"),
        ("/?status=sleeping", "status"),
        ("/gateways.csv?cpu_min=101", "cpu_min"),
        ("/?speed=1", "speed"),
        ("/areas/area-1?from=x", "from"),
        ("/areas/0?from=0001-01-01", "from"),  # schemathesis found it: the period before 0001 was a 500
        ("/homes?to=9999-12-31", "to"),
        ("/quarantine.json?limit=ten", "limit"),
    ],
)
async def test_bad_parameters_are_400s_naming_them(client: TestClient, path: str, name: str) -> None:
    response = await client.get(path, headers=H)
    assert response.status == 400
    assert name in await response.text()
