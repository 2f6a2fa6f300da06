"""Small-group suppression in every place that shows per-area (or per-community) figures.

The minimum group is 10 homes (``thresholds.toml``). The fixture's fleet has 3 areas of 20
recent homes (6 communities of 10) and 5 old homes; here 3 recent homes are moved to an
area of their own ("tiny"). Each place is checked: the area view page, its API and its two
exports (with and without a date range, by area and by community), an area's trend page
(whole area and its small days), and the periodic report's KPI and area tables.
"""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from collector.reports.experience import HomeFigures
from collector.reports.sections import areas, capacity
from collector.store import Store
from collector.store.sql import Statement
from tests.collector.test_exports import RECENT, H, client, store

__all__ = ["client", "store"]
TINY = [RECENT.gid(i) for i in (0, 3, 6)]


@pytest.fixture
async def tiny(client: TestClient, store: Store) -> TestClient:
    for gid in TINY:
        await store.db.execute(Statement("UPDATE subscribers SET area = 'tiny' WHERE gateway_id = ?", (gid,)))
    return client


@pytest.mark.parametrize("path", ["/areas", "/api/v1/areas", "/areas.csv", "/areas.json"])
@pytest.mark.parametrize("query", ["", "from=2026-11-20&to=2026-11-22", "level=community", "min_group=15"])
async def test_the_area_view_never_shows_a_small_group(tiny: TestClient, path: str, query: str) -> None:
    response = await tiny.get(f"{path}?{query}", headers=H)
    assert response.status == 200
    text = (await response.read()).decode("utf-8-sig")
    assert "tiny" not in text.split('id="suppressed"')[0] if path == "/areas" else "tiny" not in text
    if path == "/api/v1/areas":
        view = json.loads(text)
        assert all(g["homes"] >= view["min_group"] for g in view["groups"])
        assert view["suppressed"]["groups"] >= 1 or "community" in query  # communities are 10 or 11 homes
        assert view["min_group"] == (15 if "min_group" in query else 10)


async def test_min_group_can_be_raised_never_lowered(tiny: TestClient) -> None:
    view = await (await tiny.get("/api/v1/areas?min_group=2", headers=H)).json()
    assert view["min_group"] == 10 and "tiny" not in {g["name"] for g in view["groups"]}


async def test_an_area_trend_page_hides_a_small_area_and_its_small_days(tiny: TestClient) -> None:
    small = await (await tiny.get("/areas/tiny?from=2026-11-13&to=2026-11-30", headers=H)).text()
    assert 'id="suppressed"' in small and "<svg" not in small
    # area-1 in November: 2 old gateways report on the 1st to 5th, 20 recent ones from the 13th
    page = await (await tiny.get("/areas/area-1?from=2026-11-01&to=2026-11-30", headers=H)).text()
    rows = page.split('id="area-days"')[1].split("<tbody>")[1].split("<tr>")[1:]
    early = [r for r in rows if r.startswith("<td>2026-11-0")]
    late = [r for r in rows if r.startswith("<td>2026-11-2")]
    assert len(early) == 5 and all(r.count('<td class="num">–</td>') == 3 for r in early), early[0]
    assert late and all("–" not in r for r in late)
    assert "5 days with fewer than 10 gateways reporting" in page


def _home(gid: str, area: str, score: float) -> HomeFigures:
    return HomeFigures(gid, area, score, 30.0, 0.5, 1.0, 2.0, {}, (), False)


def test_the_report_area_table_shows_no_figures_for_a_small_period() -> None:
    before = {f"b{i}": _home(f"b{i}", "shrinking", 80.0) for i in range(12)}
    before |= {f"s{i}": _home(f"s{i}", "small", 50.0) for i in range(3)}
    now = {"b0": _home("b0", "shrinking", 20.0)}  # one home left: its score must not show
    now |= {f"s{i}": _home(f"s{i}", "small", 50.0) for i in range(3)}
    table = areas(now, before, 10)
    assert [r["area"] for r in table.rows] == ["shrinking"]  # "small" never had 10 homes
    row = table.rows[0]
    assert (
        row["homes"] == 1
        and row["lost"] == 11
        and row["wifi_score"] is None
        and row["wifi_score_before"] == 80
    )
    assert capacity(table).rows == []  # nothing drawn from the one home's figures
    assert "1 areas with fewer than 10 homes are not shown" in table.note
