"""Date ranges on the gateway page, /quarantine, /areas and a home's page, and the CSV/JSON of
every table (one table-driven handler), over the real app and a real SQLite store.

The fleet (``tests/collector/reports/fleet.py``) writes 4 gateway windows a day and a known
traffic per home per day, so what a range must show is known here, not read back.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.profiles.config import load_config
from collector.reports.lease import StoreLeases
from collector.reports.schedule import produce_due
from collector.reports.settings import ReportSettings
from collector.store import Store
from collector.store.sql import Statement
from collector.web.exports import EXPORTS
from tests.collector.test_exports import OLD, RECENT, H, client, store, table

__all__ = ["client", "store"]  # the fixtures, shared with the exports' tests
GB = 1e9


def _axis(page: str) -> list[str]:
    """The first chart's time-axis labels."""
    chart = page.split('<svg class="chart"', 2)[1]
    return re.findall(r'class="chart-label">(\d\d [A-Z][a-z]{2}[^<]*)</text>', chart)[:3]


async def test_the_gateway_page_charts_follow_the_range(client: TestClient) -> None:
    gid = RECENT.gid(3)
    whole = await (await client.get(f"/gateways/{gid}", headers=H)).text()
    ranged = await (await client.get(f"/gateways/{gid}?from=2026-11-20&to=2026-11-22", headers=H)).text()
    # without a range the axis spans the windows stored (13 to 30 November); with one, the range
    assert _axis(whole)[0] == "13 Nov" and _axis(whole)[-1] == "30 Nov"
    assert _axis(ranged) == ["20 Nov", "21 Nov", "22 Nov"]
    assert 'name="from" value="2026-11-20"' in ranged
    assert 'href="/gateways/new-00003/history.csv?from=2026-11-20&amp;to=2026-11-22"' in ranged
    # a range past the last window: the axis is still the range asked for, not the data's span
    past = await (await client.get(f"/gateways/{gid}?from=2026-11-28&to=2026-12-05", headers=H)).text()
    assert _axis(past) == ["28 Nov", "01 Dec", "05 Dec"]
    # the charts' figures: 4 windows a day, 3 days
    rows = table(
        await (
            await client.get(f"/gateways/{gid}/history.csv?from=2026-11-20&to=2026-11-22", headers=H)
        ).read()
    )
    assert rows[0][:3] == ["Window end (UTC)", "Window s", "CPU %"]
    assert [r[0] for r in rows[1:]] == [
        f"2026-11-{d} {h:02d}:00:00" for d in (20, 21, 22) for h in (3, 9, 15, 21)
    ]
    api = await (await client.get(f"/api/v1/gateways/{gid}?from=2026-11-20&to=2026-11-22", headers=H)).json()
    assert len(api["history"]) == 12
    empty = await (await client.get(f"/gateways/{gid}?from=2025-01-01&to=2025-01-31", headers=H)).text()
    assert "no data in this range" in empty


async def test_a_gateway_page_tables_download_as_on_the_page(client: TestClient) -> None:
    page = await (await client.get("/gateways/gw-failing", headers=H)).text()
    samplers = table(await (await client.get("/gateways/gw-failing/samplers.csv", headers=H)).read())
    assert samplers[1:] == [["system", "ok", ""], ["wifi", "error", "iw crashed"]]
    assert page.count('<td class="bad">error</td>') == 1
    interfaces = json.loads(
        await (await client.get("/gateways/gw-failing/interfaces.json", headers=H)).read()
    )
    names = [i["name"] for i in interfaces["gateway-interfaces"]]
    assert names and all(f"<tr><td>{n}</td>" in page for n in names)
    assert (await client.get("/gateways/nobody/samplers.csv", headers=H)).status == 404


async def test_the_quarantine_takes_a_range(client: TestClient, store: Store) -> None:
    for day, reason in ((20, "bad_frame"), (25, "too_big")):
        at = (date(2026, 11, day) - date(1970, 1, 1)).days * 86400 + 3600
        await store.db.execute(Statement(
            "INSERT INTO quarantine (received_at, topic, gateway_id, reason, detail, size, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (at, "homescope/v1/x/report", "x", reason, "d", 1, b"x")))  # fmt: skip
    rows = table(await (await client.get("/quarantine.csv?from=2026-11-19&to=2026-11-21", headers=H)).read())
    assert [r[4] for r in rows[1:]] == ["bad_frame"]
    page = await (await client.get("/quarantine?from=2026-11-24&to=2026-11-26", headers=H)).text()
    assert "too_big" in page and "bad_frame" not in page and 'value="2026-11-24"' in page
    api = await (await client.get("/api/v1/quarantine?range=last7", headers=H)).json()
    assert all(q["reason"] not in ("bad_frame", "too_big") for q in api["quarantine"])


async def test_the_area_view_takes_a_range_and_keeps_the_minimum_group(client: TestClient) -> None:
    recent = json.loads(
        await (await client.get("/areas.json?from=2026-11-20&to=2026-11-22", headers=H)).read()
    )
    assert [(a["name"], a["homes"]) for a in recent["areas"]] == [
        ("area-0", 20),
        ("area-1", 20),
        ("area-2", 20),
    ]
    api = await (await client.get("/api/v1/areas?from=2026-11-02&to=2026-11-04", headers=H)).json()
    # only the 5 old homes reported then (in 3 areas and the fixture's formula-named one): every
    # group is under the minimum group, so none is shown
    assert api["groups"] == [] and api["suppressed"] == {"groups": 4, "homes": OLD.homes}
    page = await (await client.get("/areas?from=2026-11-02&to=2026-11-04", headers=H)).text()
    assert 'id="suppressed"' in page and "area-1" not in page.split('id="suppressed"')[1]
    assert 'href="/areas.csv?from=2026-11-02&amp;to=2026-11-04"' in page


async def test_a_home_page_traffic_chart_follows_the_range(client: TestClient) -> None:
    gid = RECENT.gid(4)  # (1 + 4 % 3) GB down and 0.1 GB up a day
    page = await (await client.get(f"/homes/{gid}?from=2026-11-25&to=2026-12-03", headers=H)).text()
    assert "Traffic per day, GB (2026-11-25 to 2026-12-03)" in page
    traffic = page.split('aria-label="Traffic per day')[1].split("</svg>")[0]
    assert re.findall(r'class="chart-label">(\d\d [A-Z][a-z]{2})</text>', traffic) == [
        "25 Nov",
        "29 Nov",
        "03 Dec",
    ]
    days = table(
        await (await client.get(f"/homes/{gid}/days.csv?from=2026-11-25&to=2026-12-03", headers=H)).read()
    )
    # the fleet's last day is 30 November: days it did not report are not rows
    assert [(r[0], float(r[1])) for r in days[1:]] == [(f"2026-11-{d}", 2.1) for d in range(25, 31)]
    api = await (await client.get(f"/api/v1/homes/{gid}?from=2026-11-25&to=2026-12-03", headers=H)).json()
    assert [(d["day"], d["gb"]) for d in api["days"]] == [(r[0], float(r[1])) for r in days[1:]]
    terminals = table(await (await client.get(f"/homes/{gid}/terminals.csv", headers=H)).read())
    assert len(terminals) - 1 == page.count("<tr><td title=")
    history = json.loads(await (await client.get(f"/homes/{gid}/history.json", headers=H)).read())
    assert len(history["home-history"]) == page.split('id="history"')[1].count("<tr><td>")


async def test_reports_list_and_security_events_download(client: TestClient, store: Store) -> None:
    await produce_due(store, load_config(), ReportSettings(pdf=False, periods="week"), StoreLeases(store.db), "t",
                      date(2026, 12, 2))  # fmt: skip
    api = await (await client.get("/api/v1/reports", headers=H)).json()
    rows = table(await (await client.get("/reports.csv", headers=H)).read())
    assert [r[0] for r in rows[1:]] == [r["name"] for r in api["reports"]] and rows[1:]
    assert "report.html" in rows[1][-1]
    events = await (await client.get("/api/v1/security/events", headers=H)).json()
    csv_rows = table(await (await client.get("/security/events.csv", headers=H)).read())
    assert [int(r[0]) for r in csv_rows[1:]] == [e["id"] for e in events["events"]] and csv_rows[1:]
    assert 'href="/security/events.csv"' in await (await client.get("/security/events", headers=H)).text()


@pytest.mark.parametrize("export", EXPORTS, ids=[e.path for e in EXPORTS])
async def test_every_export_is_csv_with_bom_and_json(client: TestClient, export: Any) -> None:
    path = export.path.replace("{gateway_id}", RECENT.gid(0))
    csv_rows = table(await (await client.get(f"{path}.csv", headers=H)).read())
    assert csv_rows[0] == [heading for _, heading in export.columns]
    as_json = json.loads(await (await client.get(f"{path}.json", headers=H)).read())
    assert len(as_json[export.name]) == len(csv_rows) - 1


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/gateways/new-00001?from=2026-13-01", "from"),
        ("/gateways/new-00001/history.csv?range=forever", "range"),
        ("/quarantine?to=x", "to"),
        ("/areas?from=2026-11-05&to=2026-11-01", "before"),
        ("/homes/new-00001?from=tomorrow", "from"),
        ("/homes/new-00001/terminals.csv?window=year", "window"),
        ("/reports.csv?limit=x", "limit"),
        ("/security/events.json?event=nothing", "event"),
    ],
)
async def test_bad_range_parameters_are_400s_naming_them(client: TestClient, path: str, name: str) -> None:
    response = await client.get(path, headers=H)
    assert response.status == 400, (response.status, await response.text())
    assert name in await response.text()
