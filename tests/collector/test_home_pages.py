"""The home-profile pages (/homes, /homes/{id}, /areas) on the real aiohttp app over a real store."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.profiles.rules import rules
from collector.store.base import insights
from collector.web.auth import Auth
from collector.web.charts import Bar, bar_chart
from collector.web.homes import _area_names
from tests.collector.profiles.builders import as_of, week
from tests.collector.profiles.stores import BACKENDS, open_profile_store, put_days, store_url
from tests.collector.profiles.test_evaluate import gamer

WEEK = week()
AS_OF = as_of(WEEK)
TOKEN = "pages-token"
# a gateway id, a hostname, an SSID and a community written by someone who wants a script to run
HOSTILE_ID = 'gw-"><img src=x onerror=alert(1)>&?#'
HOSTILE_HOST = "<script>alert('host')</script>"
HOSTILE_SSID = "<img src=x onerror=alert('ssid')>"
HOSTILE_COMMUNITY = "<b>c&d</b>"
RAW = (HOSTILE_ID, HOSTILE_HOST, HOSTILE_SSID, HOSTILE_COMMUNITY, "<script>", "<img")


def hostile_home() -> list[Any]:
    days = week()
    for d in days:
        d.minutes("video", 120, down=3_000_000_000).engaged(200)
        d.terminals((HOSTILE_HOST, "Apple", "5GHz"))
        d.wifi_parts(80.0, 60.0, 90.0, 40.0, 20.0)
        d.signal("5GHz", -70, 96)
        d.competitor("Evil<b>", HOSTILE_SSID, -40, 20)
        # link detail of the one terminal: 96 samples at -68 dBm and 300 Mbit/s PHY
        d.extra["sx"] = {"02:00:00:00:00:01": {"x": [96, 96, -68 * 96, 300_000 * 96, 0, 0, 0, 0, 0, 0],
                                               "c": {"video": 120}}}  # fmt: skip
    return days


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    s = await open_profile_store(store_url(request, tmp_path, request.param, "pages.db"))
    crm = []
    for i in range(15):
        gid = f"gw-{i:02d}"
        days = gamer(week()) if i % 3 == 0 else week()
        for d in days:
            d.minutes("video", 60 if i % 3 else 0, down=2_000_000_000).engaged(200)
        await put_days(s, gid, days)
        area = "north" if i < 12 else "south"
        crm.append({"gateway_id": gid, "subscriber_id": f"S{i}", "plan_down_mbps": 300.0, "plan_up_mbps": None,
                    "price": 30.0, "contract_end": None, "area": area, "community": f"{area}-{i % 2}"})  # fmt: skip
    await put_days(s, HOSTILE_ID, hostile_home())
    crm.append({"gateway_id": HOSTILE_ID, "subscriber_id": "S<x>", "plan_down_mbps": 500.0, "plan_up_mbps": 50.0,
                "price": 59.0, "contract_end": "2025-07-01", "area": "south", "community": HOSTILE_COMMUNITY})  # fmt: skip
    await insights(s).upsert_subscribers(crm)
    await evaluate(insights(s), load_config(), as_of=AS_OF)
    yield s
    await s.close()


@pytest.fixture
async def client(aiohttp_client: Any, store: Any) -> TestClient:
    c: TestClient = await aiohttp_client(create_app(store, Auth.from_settings("op:pw", TOKEN, "secret")))
    return c


async def signed_in(client: TestClient) -> TestClient:
    response = await client.post("/login", data={"user": "op", "password": "pw", "next": "/homes"})
    assert response.status == 200 and str(response.url).endswith("/homes")
    return client


async def page(client: TestClient, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/html"
    return await response.text()


def home_ids(html: str) -> list[str]:
    return re.findall(r'<tr><td><a href="/homes/[^"]*">([^<]*)</a>', html)


@pytest.mark.parametrize("path", ["/homes", "/homes/gw-00", "/areas", "/homes?label=heavy_gamer"])
async def test_pages_redirect_to_login_without_a_session(client: TestClient, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == f"/login?next={path}"
    forged = await client.get(path, allow_redirects=False, cookies={"homescope_session": "op|9999999999|x"})
    assert forged.status == 302


async def test_the_header_links_to_homes_and_areas(client: TestClient) -> None:
    html = await page(await signed_in(client), "/")
    assert '<a href="/homes">Homes</a>' in html and '<a href="/areas">Areas</a>' in html


async def test_filters_narrow_the_list_as_the_api_does(client: TestClient) -> None:
    await signed_in(client)
    everyone = await page(client, "/homes")
    assert '<p id="total"><b>16</b>' in everyone and len(home_ids(everyone)) == 16
    # the selects offer every registered rule of their kind, and the areas and communities
    for name, r in rules().items():
        assert re.search(rf'<select name="{r.kind}">.*?<option value="{name}">', everyone)
    assert '<optgroup label="Areas"><option value="north">north</option>' in everyone
    assert '<option value="north-1">north-1</option>' in everyone
    # one bar per registered rule, gamers counted and linked to their filter
    chart = re.search(r'<svg class="chart bars".*?</svg>', everyone)
    assert chart and chart.group().count('class="chart-bar"') == len(rules())
    assert (
        '<a href="/homes?label=heavy_gamer">' in chart.group() and "heavy_gamer: 5</title>" in chart.group()
    )

    gamers = await page(client, "/homes?label=heavy_gamer")
    assert home_ids(gamers) == ["gw-00", "gw-03", "gw-06", "gw-09", "gw-12"]
    assert '<option value="heavy_gamer" selected>' in gamers
    assert '<span class="badge badge-label" title="label">heavy_gamer</span>' in gamers
    north = await page(client, "/homes?label=heavy_gamer&area=north&limit=2")
    assert '<p id="total"><b>4</b>' in north and home_ids(north) == ["gw-00", "gw-03"]
    assert (
        "1–2 of 4" in north
        and 'href="/homes?label=heavy_gamer&amp;area=north&amp;limit=2&amp;offset=2"' in north
    )
    assert "heavy_gamer: 4</title>" in north, "the chart counts within the chosen area"
    second = await page(client, "/homes?label=heavy_gamer&area=north&limit=2&offset=2")
    assert home_ids(second) == ["gw-06", "gw-09"] and 'rel="prev"' in second and 'rel="next"' not in second
    api = await (await client.get("/api/v1/homes?label=heavy_gamer&area=north&limit=2")).json()
    assert [h["gateway_id"] for h in api["homes"]] == home_ids(north)
    assert (await client.get("/homes?label=churn_risk")).status == 400
    assert (await client.get("/homes?limit=lots")).status == 400


async def test_a_home_page_explains_its_results_with_pictures(client: TestClient) -> None:
    await signed_in(client)
    html = await page(client, f"/homes/gw-00?as_of={AS_OF}")
    assert "3.3 h/day of gaming on 7 of 7 days" in html
    assert '<a href="/gateways/gw-00">Gateway page</a>' in html
    assert '<table id="crm">' in html and "<td>S0</td>" in html and "300 Mbit/s" in html
    # the threshold sits beside the figure it bounds
    assert '<tr><td>hours_per_day</td><td class="num">3.333</td><td>≥ 2</td></tr>' in html
    assert "version 1 · window 7d · state on" in html
    assert re.search(r'<table id="history">.*<td>appeared</td><td>heavy_gamer</td>', html)
    assert html.count('<svg class="chart') >= 3
    assert re.search(r'aria-label="Traffic per day[^"]*".*?<polyline', html), "the daily traffic is a line"
    assert re.search(r'<table id="terminals">.*>ps5</td><td>console</td><td>wired</td>', html)
    api = await (await client.get(f"/api/v1/homes/gw-00?as_of={AS_OF}")).json()
    assert api["labels"][0]["sentence"] in html
    month = await page(client, f"/homes/gw-00?as_of={AS_OF}&window=30d")
    assert "Terminals (30d)" in month
    assert (await client.get("/homes/nobody")).status == 404
    assert (await client.get("/homes/gw-00?window=year")).status == 400


async def test_churn_factors_wifi_parts_and_terminal_links_are_drawn(client: TestClient) -> None:
    await signed_in(client)
    html = await page(client, f"/homes/{quote(HOSTILE_ID, safe='')}?as_of={AS_OF}")
    card = re.search(r'<section class="result result-warning" id="result-churn_risk">.*?</section>', html)
    assert card, "churn_risk fires: a strong competitor and a contract ending in 22 days"
    factors = re.search(r'aria-label="Factors: grade × weight".*?</svg>', card.group())
    assert factors and factors.group().count('class="chart-bar"') == 3  # competitor, contract, score
    assert "1.00 × 0.45" in factors.group() and "fires at 0.5" in factors.group()
    wifi = re.search(r'aria-label="Wi-Fi experience score and its parts \(7d\)".*?</svg>', html)
    assert wifi and wifi.group().count('class="chart-bar"') == 6  # the score and five parts
    assert "signal: 80</title>" in wifi.group()
    assert '<td class="num">-68</td><td class="num">300</td>' in html


async def test_the_areas_page_suppresses_small_groups_as_the_api_does(client: TestClient) -> None:
    await signed_in(client)
    html = await page(client, "/areas")
    api = await (await client.get("/api/v1/areas")).json()
    assert api["suppressed"] == {"groups": 1, "homes": 4}
    assert "Not shown (fewer than 10 evaluated homes each" in html and ": 1 group with 4 homes." in html
    assert '<a href="/homes?area=north">north</a>' in html and "south" not in html
    assert '<span class="badge badge-label">heavy_gamer 4</span>' in html
    assert html.count('<svg class="chart bars"') == 3
    communities = await page(client, "/areas?level=community")
    assert ": 5 groups with 16 homes." in communities and '<table id="areas">' in communities
    assert "north-1" not in communities and HOSTILE_COMMUNITY not in communities
    raised = await page(client, "/areas?min_group=13")
    assert ": 2 groups with 16 homes." in raised
    assert (await client.get("/areas?min_group=2")).status == 200
    assert ": 1 group with 4 homes." in await page(client, "/areas?min_group=2"), "never below the floor"
    assert (await client.get("/areas?level=street")).status == 400


async def test_strings_from_the_store_are_escaped_everywhere(client: TestClient) -> None:
    await signed_in(client)
    listing = await page(client, "/homes")
    home = await page(client, f"/homes/{quote(HOSTILE_ID, safe='')}?as_of={AS_OF}")
    filtered = await page(client, "/homes?" + "area=" + quote(HOSTILE_COMMUNITY))
    for html in (listing, home, filtered):
        for raw in RAW:
            assert raw not in html
    # the id is text in the table and a quoted path in the link, which leads to its page
    href = "/homes/" + quote(HOSTILE_ID, safe="")
    assert f'<a href="{href}">gw-&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;?#</a>' in listing
    assert "&lt;b&gt;c&amp;d&lt;/b&gt;" in listing and home_ids(filtered) == [
        "gw-&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;?#"
    ]
    assert "&lt;script&gt;alert(&#x27;host&#x27;)&lt;/script&gt;" in home
    assert "competitor Evil&lt;b&gt; (&lt;img src=x onerror=alert(&#x27;ssid&#x27;)&gt;) at -40 dBm" in home
    assert f'<a href="/gateways/{quote(HOSTILE_ID, safe="")}">Gateway page</a>' in home


def test_bar_chart_escapes_labels_and_links_and_draws_one_bar_per_row() -> None:
    svg = bar_chart(
        "<t>", [Bar("<a>", 3, href="/x?a=1&b=<2>"), Bar("b" * 30, None), Bar("c", 0)], marker=(2, "<m>")
    )
    assert "<t>" not in svg and "<a>" not in svg and "<m>" not in svg and "<2>" not in svg
    assert '<a href="/x?a=1&amp;b=&lt;2&gt;">' in svg and svg.count('class="chart-bar"') == 3
    assert "b" * 19 + "…" in svg and "&lt;a&gt;: 3</title>" in svg and "–</text>" in svg
    assert "no data yet" in bar_chart("empty", [])


async def test_area_choices_are_every_area_and_community_by_name(store: Any) -> None:
    expected = (["north", "south"], [HOSTILE_COMMUNITY, "north-0", "north-1", "south-0", "south-1"])
    assert await _area_names(insights(store)) == expected
