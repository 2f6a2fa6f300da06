"""Conversions the network verifies, per offer type, from day rollups on both stores."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.marketing.verification import figures, verify
from collector.profiles import layout
from collector.store import Store
from collector.store.sql import Statement
from tests.collector.marketing.homes import Home, seed

DAY = 86400
ORDER_DAY = 20_400  # the day the orders were placed
ORDER_AT = ORDER_DAY * DAY + 15 * 3600.0


def day(mesh: int = 0, plan_kbps: int = 100_000, video_min: int = 0, delay_ms: float | None = None,
        rate_kbps: float | None = None, reports: int = 96) -> dict[str, Any]:  # fmt: skip
    """A day rollup with the figures verification reads."""
    v = layout.zeros()
    v[layout.N] = reports
    v[layout.cat_at("video", layout.CAT_ENGAGED)] = video_min
    if delay_ms is not None:
        at = layout.QUALITY + 4 * layout.QUALITY_TARGETS.index("internet")
        v[at], v[at + 1] = reports, round(delay_ms * 10 * reports)
    if rate_kbps is not None:
        v[layout.RATE_WINDOWS + layout.first_bucket_from(rate_kbps)] = 40
    return {"v": v, "mesh": mesh, "plan": plan_kbps}


async def _days(store: Store, rows: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
    await store.db.transaction([Statement(
        "INSERT INTO home_days (gateway_id, day, data, detail, updated_at) VALUES (?, ?, ?, '{}', 0)",
        [(g, d, json.dumps(data)) for g, days in rows.items() for d, data in days], many=True)])  # fmt: skip


def _converted(*gateways: str) -> dict[str, tuple[str, float]]:
    return {g: (f"sub-{g}", ORDER_AT) for g in gateways}


async def test_a_new_mesh_node_verifies_mesh(store: Store) -> None:
    await seed(store, [Home(g) for g in ("gw-new", "gw-had", "gw-none")])
    before, after = ORDER_DAY - 1, ORDER_DAY + 1
    await _days(store, {"gw-new": [(before, day()), (after, day(mesh=2))],
                        "gw-had": [(before, day(mesh=1)), (after, day(mesh=1))],  # no new node
                        "gw-none": [(before, day())]})  # fmt: skip
    found = await verify(store.db, "mesh_node", _converted("gw-new", "gw-had", "gw-none"), {})
    assert [(v.gateway_id, v.evidence) for v in found] == [(
        "gw-new", "mesh nodes/APs in the topology 0 -> 2 (1 day(s) before the order, 1 from it); ordered 2025-11-08")]  # fmt: skip


async def test_a_faster_plan_or_throughput_above_the_old_plan_verifies_an_upgrade(store: Store) -> None:
    await seed(store, [Home(g, plan=100.0) for g in ("gw-crm", "gw-wan", "gw-same")])
    await store.db.execute(
        Statement("UPDATE subscribers SET plan_down_mbps = 200 WHERE gateway_id = 'gw-crm'")
    )
    b, a = ORDER_DAY - 2, ORDER_DAY
    await _days(store, {
        "gw-crm": [(b, day(rate_kbps=80_000)), (a, day(rate_kbps=90_000))],
        "gw-wan": [(b, day(rate_kbps=90_000)), (a, day(rate_kbps=180_000))],  # the CRM lags; the line does not
        "gw-same": [(b, day(rate_kbps=90_000)), (a, day(rate_kbps=95_000))]})  # fmt: skip
    found = {v.gateway_id: v.evidence for v in await verify(
        store.db, "plan", _converted("gw-crm", "gw-wan", "gw-same"), {g: 100.0 for g in ("gw-crm", "gw-wan", "gw-same")})}  # fmt: skip
    assert set(found) == {"gw-crm", "gw-wan"}
    assert found["gw-crm"].startswith("CRM plan 100 -> 200 Mbit/s; WAN throughput p95 ")
    assert "above the old plan's 100 Mbit/s" in found["gw-wan"] and "CRM" not in found["gw-wan"]


async def test_more_video_hours_verify_the_video_package(store: Store) -> None:
    await seed(store, [Home(g) for g in ("gw-more", "gw-flat", "gw-partial")])
    b1, b2, a = ORDER_DAY - 3, ORDER_DAY - 1, ORDER_DAY + 1
    await _days(store, {
        "gw-more": [(b1, day(video_min=120)), (b2, day(video_min=120)), (a, day(video_min=200))],
        "gw-flat": [(b1, day(video_min=120)), (a, day(video_min=125))],
        # half a day reported after the order: 70 minutes in it are 140 a day, not 70
        "gw-partial": [(b1, day(video_min=100)), (a, day(video_min=70, reports=48))]})  # fmt: skip
    found = {v.gateway_id: v.evidence for v in await verify(
        store.db, "video_hours", _converted("gw-more", "gw-flat", "gw-partial"), {})}  # fmt: skip
    assert found == {
        "gw-more": "video watched 2.0 -> 3.3 h/day (2 day(s) before the order, 1 from it); ordered 2025-11-08",
        "gw-partial": "video watched 1.7 -> 2.3 h/day (1 day(s) before the order, 1 from it); ordered 2025-11-08",
    }


async def test_a_lower_measured_delay_verifies_acceleration(store: Store) -> None:
    await seed(store, [Home(g) for g in ("gw-fast", "gw-slow", "gw-blind")])
    b, a = ORDER_DAY - 1, ORDER_DAY + 1
    await _days(store, {"gw-fast": [(b, day(delay_ms=48.0)), (a, day(delay_ms=21.0))],
                        "gw-slow": [(b, day(delay_ms=48.0)), (a, day(delay_ms=45.0))],
                        "gw-blind": [(b, day(delay_ms=48.0)), (a, day())]})  # no measurement after: not verified  # fmt: skip
    found = await verify(store.db, "latency", _converted("gw-fast", "gw-slow", "gw-blind"), {})
    assert [(v.gateway_id, v.evidence) for v in found] == [(
        "gw-fast", "delay to the internet 48 -> 21 ms (1 day(s) before the order, 1 from it); ordered 2025-11-08")]  # fmt: skip


async def test_days_older_than_the_window_or_none_to_verify_count_for_nothing(store: Store) -> None:
    await seed(store, [Home("gw-a")])
    await _days(store, {"gw-a": [(ORDER_DAY - 30, day(mesh=0)), (ORDER_DAY + 1, day(mesh=1))]})
    assert await verify(store.db, "none", _converted("gw-a"), {}) == []
    (found,) = await verify(store.db, "mesh_node", _converted("gw-a"), {})
    assert (
        "(0 day(s) before the order, 1 from it)" in found.evidence
    )  # the 30-day-old day is outside the window


@pytest.mark.parametrize("reports", [0, 96])
def test_figures_of_no_reports_say_nothing(reports: int) -> None:
    f = figures([day(reports=reports)] if reports else [])
    assert (f.video_hours, f.delay_ms) == ((0.0, None) if reports else (None, None))
