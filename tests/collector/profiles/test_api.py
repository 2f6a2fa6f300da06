"""The home-profile API on the real aiohttp app over a real store: auth, filters, evidence, areas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from collector.app import create_app
from collector.profiles.config import load_config
from collector.profiles.evaluate import evaluate
from collector.store.base import insights
from collector.web.auth import Auth
from tests.collector.profiles.builders import as_of, week
from tests.collector.profiles.stores import BACKENDS, open_profile_store, put_days, store_url
from tests.collector.profiles.test_evaluate import gamer

TOKEN = "profiles-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEEK = week()
AS_OF = as_of(WEEK)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    s = await open_profile_store(store_url(request, tmp_path, request.param, "api.db"))
    crm = []
    for i in range(15):
        gid = f"gw-{i:02d}"
        days = gamer(week()) if i % 3 == 0 else week()
        for d in days:
            d.minutes("video", 60 if i % 3 else 0, down=2_000_000_000).engaged(200)
            if i == 1:
                d.minutes("reading", 80)
        await put_days(s, gid, days)
        area = "north" if i < 12 else "south"
        crm.append({"gateway_id": gid, "subscriber_id": f"S{i}", "plan_down_mbps": 300.0, "plan_up_mbps": None,
                    "price": 30.0, "contract_end": None, "area": area, "community": f"{area}-{i % 2}"})  # fmt: skip
    await insights(s).upsert_subscribers(crm)
    await evaluate(insights(s), load_config(), as_of=AS_OF)
    yield s
    await s.close()


@pytest.fixture
async def client(aiohttp_client: Any, store: Any) -> TestClient:
    return await aiohttp_client(create_app(store, Auth.from_settings("op:pw", TOKEN, "secret")))


@pytest.mark.parametrize(
    "path", ["/api/v1/homes", "/api/v1/homes/gw-00", "/api/v1/areas", "/api/v1/openapi.json", "/api/v1/rules"]
)
async def test_every_route_needs_authentication(client: TestClient, path: str) -> None:
    assert (await client.get(path)).status == 401
    assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status == 401
    assert (await client.get(path, headers=AUTH)).status == 200


async def test_homes_filter_by_label_flag_and_area(client: TestClient) -> None:
    everyone = await (await client.get("/api/v1/homes", headers=AUTH)).json()
    assert everyone["total"] == 15 and len(everyone["homes"]) == 15
    gamers = await (await client.get("/api/v1/homes?label=heavy_gamer", headers=AUTH)).json()
    assert [h["gateway_id"] for h in gamers["homes"]] == ["gw-00", "gw-03", "gw-06", "gw-09", "gw-12"]
    assert gamers["homes"][0]["label"] == ["heavy_gamer"] and gamers["homes"][0]["area"] == "north"
    north_gamers = await (
        await client.get("/api/v1/homes?label=heavy_gamer&area=north&limit=2", headers=AUTH)
    ).json()
    assert north_gamers["total"] == 4 and [h["gateway_id"] for h in north_gamers["homes"]] == [
        "gw-00",
        "gw-03",
    ]
    readers = await (await client.get("/api/v1/homes?label=reader&area=north-1", headers=AUTH)).json()
    assert [h["gateway_id"] for h in readers["homes"]] == ["gw-01"]
    none = await (await client.get("/api/v1/homes?flag=mesh_or_fttr", headers=AUTH)).json()
    assert none == {"total": 0, "homes": []}
    assert (await client.get("/api/v1/homes?label=mesh_or_fttr", headers=AUTH)).status == 400
    assert (await client.get("/api/v1/homes?warning=nope", headers=AUTH)).status == 400
    assert (await client.get("/api/v1/homes?limit=x", headers=AUTH)).status == 400


async def test_one_home_has_profile_windows_results_with_evidence_and_history(client: TestClient) -> None:
    home = await (await client.get(f"/api/v1/homes/gw-00?as_of={AS_OF}", headers=AUTH)).json()
    assert home["subscriber"]["subscriber_id"] == "S0" and home["summary"]["devices"] == 1
    assert set(home["profile"]) == {"day", "7d", "30d"}
    week_profile = home["profile"]["7d"]
    assert set(week_profile) >= {
        "activity",
        "terminals",
        "traffic",
        "quality",
        "plan",
        "preferences",
        "competitor",
    }
    assert week_profile["preferences"]["hours_per_day"]["game"] == 3.333
    assert week_profile["plan"]["down_mbps"] == 300.0
    (label,) = home["labels"]
    assert label["rule"] == "heavy_gamer" and label["sentence"] == "3.3 h/day of gaming on 7 of 7 days"
    assert label["evidence"]["metrics"] == {"hours_per_day": 3.333, "days_on": 7, "days": 7}
    assert home["flags"] == [] and home["warnings"] == []
    assert [h["change"] for h in home["history"]] == ["appeared"]
    assert (await client.get("/api/v1/homes/nobody", headers=AUTH)).status == 404
    assert (await client.get("/api/v1/homes/gw-00?as_of=soon", headers=AUTH)).status == 400


async def test_areas_hide_groups_smaller_than_the_minimum(client: TestClient) -> None:
    areas = await (await client.get("/api/v1/areas", headers=AUTH)).json()
    assert areas["min_group"] == 10 and areas["suppressed"] == {"groups": 1, "homes": 3}
    (north,) = areas["groups"]
    assert (
        north["name"] == "north"
        and north["homes"] == 12
        and north["labels"] == {"heavy_gamer": 4, "reader": 1}
    )
    assert north["competitor_density"] == 0.0
    # a caller may ask for larger groups, never smaller ones
    assert (await (await client.get("/api/v1/areas?min_group=13", headers=AUTH)).json())["groups"] == []
    assert len((await (await client.get("/api/v1/areas?min_group=2", headers=AUTH)).json())["groups"]) == 1
    communities = await (await client.get("/api/v1/areas?level=community", headers=AUTH)).json()
    assert communities["groups"] == [] and communities["suppressed"] == {"groups": 4, "homes": 15}
    assert (await client.get("/api/v1/areas?level=street", headers=AUTH)).status == 400


MARKETING = (
    "/api/v1/segments",
    "/api/v1/audiences",
    "/api/v1/subscribers",
    "/api/v1/winback",
    "/api/v1/campaigns",
)


async def test_the_openapi_document_describes_the_routes(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json", headers=AUTH)).json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {  # with every other route (tests/collector/test_openapi.py)
        "/api/v1/homes",
        "/api/v1/homes/{gateway_id}",
        "/api/v1/areas",
        "/api/v1/rules",
    }
    assert (
        "/api/v1/subscribers/{subscriber_id}/offers" in doc["paths"]
    )  # the marketing API joins the document
    params = {p["name"] for p in doc["paths"]["/api/v1/homes"]["get"]["parameters"]}
    assert params == {"label", "flag", "warning", "area", "limit", "offset", "from", "to", "range"}
    assert "heavy_gamer" in doc["components"]["schemas"]["Result"]["properties"]["rule"]["enum"]
    rules = await (await client.get("/api/v1/rules", headers=AUTH)).json()
    gamer_rule = next(r for r in rules["rules"] if r["rule"] == "heavy_gamer")
    assert gamer_rule["thresholds"]["min_hours_per_day"] == 2.0 and gamer_rule["window"] == "7d"
