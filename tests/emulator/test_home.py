"""Virtual homes: full report shape (valid on the wire), events, power cuts, determinism."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from agent.runner import event_frame, report_frame
from emulator.clock import SimClock
from emulator.days import is_weekday, plan_day
from emulator.home import VirtualHome
from emulator.household import ORDINARY_CAP, draw_home
from emulator.personas import PERSONAS
from emulator.truth import fleet_specs
from protocol.codec import decode
from protocol.models import EventBatch, Report, validate

MONDAY_END = 20242 * 86400  # Tuesday 00:00 UTC: the end of Monday 2025-06-02
CLOCK = SimClock.for_days(1, end=MONDAY_END)


def day_of_bodies(mix: str, seed: int = 1) -> tuple[VirtualHome, list[dict[str, Any]], list[dict[str, Any]]]:
    spec = fleet_specs({mix: 1}, 1, prefix="home", seed=seed)[0]
    home = VirtualHome(spec.gateway_id, seed, spec, CLOCK.span)
    bodies, events = [], []
    for k in range(CLOCK.windows):
        start, end = CLOCK.window(k)
        if not home.powered(start):
            home.skip(900)
            continue
        bodies.append(home.report_body(900, end))
        events += home.take_events()
    return home, bodies, events


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_body_is_a_valid_report_with_the_full_shape(persona: str) -> None:
    home, bodies, events = day_of_bodies(persona)
    for k, body in enumerate(bodies[:8]):
        frame = report_frame(
            home.gateway_id, 7, k + 1, (MONDAY_END - 900, MONDAY_END), home.uptime_s, body, 1
        )
        assert isinstance(validate(decode(frame)), Report)
    sections = set().union(*bodies)
    expected = {
        "samplers",
        "system",
        "interfaces",
        "wan",
        "radios",
        "stations",
        "quality",
        "apps",
        "neighbours",
    }
    assert expected <= sections
    assert ("topology" in sections) == PERSONAS[persona].mesh
    assert sum("neighbours" in b for b in bodies) == len(bodies) // 4  # one scan every fourth window
    if events:
        frame = event_frame(home.gateway_id, 7, 99, (MONDAY_END - 900, MONDAY_END), home.uptime_s, events, 1)
        assert isinstance(validate(decode(frame)), EventBatch)


def test_apps_rows_carry_categories_per_station_and_stay_within_the_window() -> None:
    _, bodies, _ = day_of_bodies("heavy_gamer")
    rows = [r for b in bodies for r in b["apps"]]
    assert {"game", "web", "social"} <= {r["category"] for r in rows}
    assert all(0 <= r["active_minutes"] <= 15 and r["top_apps"] for r in rows)
    macs = {s["mac"] for b in bodies for s in b["stations"]}
    assert {r["station"] for r in rows} <= macs


def test_phones_leave_on_weekdays_and_come_back_with_events() -> None:
    assert is_weekday(20241) and not is_weekday(20246)
    leaves = joins = 0
    for seed in range(1, 6):
        _, _, events = day_of_bodies("video_family", seed)
        leaves += sum(e["type"] == "station_leave" for e in events)
        joins += sum(e["type"] == "station_join" for e in events)
    assert leaves > 0 and joins >= leaves


def test_a_drifting_home_goes_dark_and_reboots() -> None:
    spec = fleet_specs({"drifting": 1}, 1, prefix="drift", seed=2)[0]
    clock = SimClock.for_days(7, end=MONDAY_END + 6 * 86400)
    home = VirtualHome(spec.gateway_id, 2, spec, clock.span)
    off = 0
    uptimes = []
    for k in range(clock.windows):
        start, end = clock.window(k)
        if not home.powered(start):
            home.skip(900)
            off += 1
            continue
        home.report_body(900, end)
        uptimes.append(home.uptime_s)
    assert off >= 8 * 4  # at least one stretch of 8 hours or more
    assert any(b < a for a, b in itertools.pairwise(uptimes))  # rebooted after power came back
    inside = [n for n in spec.neighbours if n.inside]
    assert len(inside) == 1 and inside[0].signal >= -50 and inside[0].operator


def test_homes_that_are_not_big_stay_under_the_mesh_offer() -> None:
    for seed in range(40):
        spec = draw_home(f"cap-{seed}", ("video_family", "soho"), seed)
        assert len(spec.devices) <= ORDINARY_CAP
        assert {"printer", "voip"} <= {d.kind for d in spec.devices}  # a persona's minimum is kept
    assert len(draw_home("big", ("big_poor_wifi",), 1).devices) >= 12


def test_the_same_seed_gives_the_same_home_and_day() -> None:
    a = draw_home("same", ("reader",), 9)
    b = draw_home("same", ("reader",), 9)
    assert [d.mac for d in a.devices] == [d.mac for d in b.devices] and a.truth == b.truth
    assert plan_day(a, 9, 20241, 0.0).by_slot == plan_day(b, 9, 20241, 0.0).by_slot


def test_the_legacy_home_still_reports_on_the_wall_clock() -> None:
    home = VirtualHome("legacy-1", 5)
    body = home.report_body(900)
    assert len(body["stations"]) >= 1 and body["interfaces"][0]["name"] == "wan"
    assert home.spec.personas == ("ordinary",) and home.powered(0)
