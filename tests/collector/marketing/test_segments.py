"""Segments and audiences on both stores: AND/OR, appeared since, size preview, evidence, errors."""

from __future__ import annotations

import pytest

from collector.marketing.audiences import freeze_audience, members, preview, save_segment, segments
from collector.marketing.segments import SegmentError, compile_segment
from collector.store import Store
from tests.collector.marketing.homes import Home, kind_of, seed

MESH = "14 devices; Wi-Fi score 44/100"
DAY = 86400.0


@pytest.fixture
def fleet() -> list[Home]:
    return [
        Home("gw-a", results={"mesh_or_fttr": MESH}, wifi=44, since=2 * DAY),
        Home(
            "gw-b",
            area="south",
            results={"mesh_or_fttr": MESH, "heavy_gamer": "3 h/day"},
            wifi=50,
            since=10 * DAY,
        ),
        Home("gw-c", results={"plan_upgrade": "2.5 h/day at 70%"}, plan=30, since=DAY),
        Home("gw-d", results={"churn_risk": "churn risk 0.8"}, churn=0.8, since=DAY),
        Home("gw-e"),
    ]


async def test_and_or_not_and_numbers(store: Store, fleet: list[Home]) -> None:
    await seed(store, fleet)

    async def ids(definition: object) -> list[str]:
        found = await preview(store.db, definition, kind_of, sample=100)
        assert found["size"] == len(found["sample"])
        return [r["gateway_id"] for r in found["sample"]]

    assert await ids({"flag": "mesh_or_fttr"}) == ["gw-a", "gw-b"]
    assert await ids({"all": [{"flag": "mesh_or_fttr"}, {"area": "north"}]}) == ["gw-a"]
    assert await ids({"any": [{"flag": "plan_upgrade"}, {"warning": "churn_risk"}]}) == ["gw-c", "gw-d"]
    assert await ids({"not": {"area": ["north"]}}) == ["gw-b"]
    assert await ids({"wifi_score": {"lt": 45}}) == ["gw-a"]
    assert await ids({"churn_score": {"gte": 0.5}}) == ["gw-d"]
    assert await ids({"plan": "30"}) == ["gw-c"]
    assert await ids({"plan_down_mbps": {"lte": 30}}) == ["gw-c"]
    # new this week: appeared on or after a day (gw-b on day 10, 1970-01-11)
    assert await ids({"flag": {"rule": "mesh_or_fttr", "since": "1970-01-06"}}) == ["gw-b"]
    assert await ids({"appeared_since": "1970-01-06"}) == ["gw-b"]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"flagg": "mesh_or_fttr"}, "segment: unknown field 'flagg'"),
        ({"all": [{"area": "x"}, {"any": [{"wifi": 3}]}]}, "segment.all[1].any[0]: unknown field 'wifi'"),
        ({"flag": "heavy_gamer"}, "segment.flag: 'heavy_gamer' is not a flag rule"),
        ({"wifi_score": {"below": 3}}, "unknown comparison 'below' for wifi_score"),
        (
            {"flag": {"rule": "mesh_or_fttr", "since": "last week"}},
            "segment.flag.since: not a YYYY-MM-DD date",
        ),
        ({"all": []}, "segment.all: needs a non-empty list"),
    ],
)
def test_bad_definitions_name_the_place(definition: object, message: str) -> None:
    with pytest.raises(SegmentError) as err:
        compile_segment(definition, kind_of)
    assert message in str(err.value)


async def test_audience_is_a_frozen_snapshot_with_evidence(store: Store, fleet: list[Home]) -> None:
    await seed(store, fleet)
    saved = await save_segment(store.db, "mesh north", {"flag": "mesh_or_fttr"}, kind_of, "ann")
    assert [s["name"] for s in await segments(store.db)] == ["mesh north"]
    audience = await freeze_audience(
        store.db, "mesh now", {"flag": "mesh_or_fttr"}, kind_of, "ann", saved["id"]
    )
    assert audience["size"] == 2
    # a home flagged later does not join the frozen audience
    await seed(store, [Home("gw-f", results={"mesh_or_fttr": MESH})])
    found = await members(store.db, audience["id"], with_contacts=False)
    assert [m["gateway_id"] for m in found] == ["gw-a", "gw-b"]
    assert found[0]["evidence"] == f"mesh_or_fttr: {MESH}"
    assert "name" not in found[0]
    # an area-only segment names no rule: the evidence is the home's figures
    area = await freeze_audience(store.db, "south", {"area": "south"}, kind_of, "ann")
    (south,) = await members(store.db, area["id"], with_contacts=True)
    assert south["evidence"] == "Wi-Fi score 50/100; 12 devices; 100 Mbit/s plan"
